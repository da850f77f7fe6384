"""Webhook signatures: RSASSA-PKCS1-v1_5 with SHA-256 over the raw body, base64 (reference §6.2)."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from rtk_auth.domain.keyring import KeyRing

MAX_BODY = 8 * 1024 * 1024


class WebhookSigner:
    def __init__(self, keyring: KeyRing) -> None:
        self._keyring = keyring

    def public_key(self) -> tuple[str, str]:
        """(kid, PEM SubjectPublicKeyInfo) of the key that signs deliveries."""
        key = self._keyring.active
        return key.kid, key.public_key_pem

    def sign(self, body: bytes) -> tuple[str, str]:
        """(kid, base64 signature) — the value of the `rtk-signature` header."""
        key = self._keyring.active
        signature = key.private_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return key.kid, base64.b64encode(signature).decode()
