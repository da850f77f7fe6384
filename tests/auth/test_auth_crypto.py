"""Pure unit tests: key encryption at rest, JWK form, API-token hashing, webhook signatures."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from rtk_auth.domain import api_tokens, keys


@pytest.fixture(scope="module")
def rsa_key():
    return keys.generate_rsa_key()


def test_generated_keys_are_rsa_2048(rsa_key):
    assert rsa_key.key_size == 2048
    assert rsa_key.public_key().public_numbers().e == 65537


def test_cipher_disabled_stores_plain_pem(rsa_key):
    cipher = keys.KeyCipher("")
    stored = cipher.seal(keys.private_pem(rsa_key))
    assert not cipher.enabled and not stored.encrypted
    assert stored.data.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cipher.open(stored) == stored.data


def test_cipher_encrypts_and_supports_key_rotation(rsa_key):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    pem = keys.private_pem(rsa_key)
    stored = keys.KeyCipher(old).seal(pem)
    assert stored.encrypted and b"PRIVATE KEY" not in stored.data and pem not in stored.data
    assert keys.KeyCipher(old).open(stored) == pem
    rotated = keys.KeyCipher(f"{new},{old}")  # new primary, old still decrypts
    assert rotated.open(stored) == pem
    assert rotated.needs_reseal(stored)
    assert not rotated.needs_reseal(rotated.seal(pem))
    with pytest.raises(keys.KeyDecryptionError):
        keys.KeyCipher(new).open(stored)
    with pytest.raises(keys.KeyDecryptionError, match="not set"):
        keys.KeyCipher("").open(stored)


def test_cipher_rejects_malformed_key():
    with pytest.raises(ValueError, match="Fernet"):
        keys.KeyCipher("not-a-fernet-key")


def test_jwk_round_trips_through_pyjwt(rsa_key):
    kid = keys.jwk_thumbprint(rsa_key.public_key())
    jwk = keys.rsa_jwk(kid, rsa_key.public_key())
    assert jwk["kty"] == "RSA" and jwk["alg"] == "RS256" and jwk["use"] == "sig" and jwk["kid"] == kid
    assert "d" not in jwk and "p" not in jwk  # public half only
    token = jwt.encode({"x": 1}, rsa_key, algorithm="RS256", headers={"kid": kid})
    assert jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"]) == {"x": 1}


def test_kid_is_the_rfc7638_thumbprint(rsa_key):
    # RFC 7638: SHA-256 over {"e","kty","n"} in lexicographic order, no whitespace.
    jwk = keys.rsa_jwk("x", rsa_key.public_key())
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert keys.jwk_thumbprint(rsa_key.public_key()) == expected


def test_api_token_secrets_are_random_and_hashed():
    a, b = api_tokens.new_secret(), api_tokens.new_secret()
    assert a != b and a.startswith("rtk_") and len(a) >= 40
    digest = api_tokens.hash_secret(a)
    assert digest == hashlib.sha256(a.encode()).digest() and len(digest) == 32
    assert api_tokens.matches(a, digest)
    assert not api_tokens.matches(b, digest)


def test_public_pem_round_trip(rsa_key):
    pem = keys.public_pem(rsa_key.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert keys.load_public_pem(pem).public_numbers() == rsa_key.public_key().public_numbers()


def test_pkcs1v15_signature_matches_reference_verifier(rsa_key):
    body = b'{"event":"meeting.started"}'
    signature = rsa_key.sign(body, padding.PKCS1v15(), hashes.SHA256())
    rsa_key.public_key().verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        rsa_key.public_key().verify(signature, body + b" ", padding.PKCS1v15(), hashes.SHA256())
