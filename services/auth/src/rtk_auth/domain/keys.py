"""RSA keys: generation, PEM, encryption at rest (Fernet), JWK form.

Private keys are kept as PKCS#8 PEM. When `RTK_AUTH_KEY_ENCRYPTION_KEY` is set the stored bytes
are a Fernet token of that PEM (AES-128-CBC + HMAC-SHA256). Several comma-separated Fernet keys
may be given: the first encrypts, all decrypt, which lets an operator rotate the key-encryption
key (the service re-encrypts stored keys with the first one at start).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

RSA_KEY_SIZE = 2048
RSA_PUBLIC_EXPONENT = 65537


class KeyDecryptionError(RuntimeError):
    """A stored private key cannot be decrypted with the configured key-encryption key(s)."""


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=RSA_PUBLIC_EXPONENT, key_size=RSA_KEY_SIZE)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private_pem(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("stored key is not an RSA private key")
    return key


def load_public_pem(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("stored key is not an RSA public key")
    return key


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk_thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK SHA-256 thumbprint, base64url; used as the `kid` of new keys."""
    numbers = key.public_numbers()
    canonical = f'{{"e":"{_b64url_uint(numbers.e)}","kty":"RSA","n":"{_b64url_uint(numbers.n)}"}}'
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def rsa_jwk(kid: str, key: rsa.RSAPublicKey, alg: str = "RS256") -> dict[str, str]:
    numbers = key.public_numbers()
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": alg, "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


@dataclass(frozen=True, slots=True)
class StoredPrivateKey:
    """What goes into the `private_key` / `private_key_encrypted` columns."""

    data: bytes
    encrypted: bool


class KeyCipher:
    """Encrypts private-key PEMs at rest when a key-encryption key is configured."""

    def __init__(self, encryption_keys: str = "") -> None:
        keys = [k.strip() for k in encryption_keys.split(",") if k.strip()]
        try:
            self._fernets = [Fernet(k) for k in keys]
        except (ValueError, TypeError) as exc:
            raise ValueError(
                "RTK_AUTH_KEY_ENCRYPTION_KEY must be Fernet keys (32 bytes, urlsafe base64), comma-separated"
            ) from exc
        self._multi = MultiFernet(self._fernets) if self._fernets else None

    @property
    def enabled(self) -> bool:
        return self._multi is not None

    def seal(self, pem: bytes) -> StoredPrivateKey:
        if self._multi is None:
            return StoredPrivateKey(pem, False)
        return StoredPrivateKey(self._multi.encrypt(pem), True)

    def open(self, stored: StoredPrivateKey) -> bytes:
        if not stored.encrypted:
            return stored.data
        if self._multi is None:
            raise KeyDecryptionError(
                "a private key is stored encrypted but RTK_AUTH_KEY_ENCRYPTION_KEY is not set"
            )
        try:
            return self._multi.decrypt(stored.data)
        except InvalidToken as exc:
            raise KeyDecryptionError("a private key cannot be decrypted with RTK_AUTH_KEY_ENCRYPTION_KEY") from exc

    def needs_reseal(self, stored: StoredPrivateKey) -> bool:
        """True when the stored form is not encrypted with the current primary key."""
        if self._multi is None:
            return False
        if not stored.encrypted:
            return True
        try:
            self._fernets[0].decrypt(stored.data)
        except InvalidToken:
            return True
        return False
