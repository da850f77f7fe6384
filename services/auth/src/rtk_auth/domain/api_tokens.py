"""API token secrets: 256 random bits, shown once, stored as SHA-256.

A plain (unsalted) SHA-256 is the right hash here: the secret has 256 bits of entropy, so there
is nothing to brute-force, and a deterministic hash lets the store find the row by an index
lookup on the hash. The final comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "rtk_"
MAX_SECRET_LENGTH = 256


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored_sha256: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_sha256)
