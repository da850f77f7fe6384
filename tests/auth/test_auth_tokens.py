"""Participant tokens and signing keys against real Postgres (domain level)."""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid

import jwt
import orjson
import pytest
from authtest_support import make_domain
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from rtk_auth.domain import keys as keylib
from rtk_auth.domain.keyring import KeyRing
from rtk_auth.domain.keys import KeyCipher, KeyDecryptionError
from rtk_auth.domain.models import KeyState
from rtk_auth.domain.participant_tokens import ParticipantTokens
from rtk_auth.store import AuthStore
from rtkit.errors import ApiError

HUNDRED_DAYS = 100 * 24 * 3600


async def _app(auth) -> str:
    account = await auth.directory.create_account("acme")
    app = await auth.directory.create_app(account.id, "prod")
    return app.id


async def _issue(auth, app_id: str, meeting_id: str | None = None, participant_id: str | None = None, **kw):
    meeting_id = meeting_id or auth.meetings.add(app_id)
    participant_id = participant_id or str(uuid.uuid4())
    preset_id = str(uuid.uuid4())
    token, record = await auth.tokens.issue(app_id, meeting_id, participant_id, preset_id, **kw)
    return token, record


def _reason(excinfo: pytest.ExceptionInfo[ApiError]) -> str:
    return excinfo.value.reason


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unverified(token: str) -> tuple[dict, dict]:
    header_b64, payload_b64, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return json.loads(base64.urlsafe_b64decode(pad(header_b64))), json.loads(base64.urlsafe_b64decode(pad(payload_b64)))


async def test_token_has_realtimekit_claims_kid_and_100_day_lifetime(auth):
    app_id = await _app(auth)
    meeting_id, participant_id = auth.meetings.add(app_id), str(uuid.uuid4())
    before = int(time.time())
    token, record = await auth.tokens.issue(app_id, meeting_id, participant_id, "preset-1")
    header, claims = _unverified(token)
    assert header == {"alg": "RS256", "typ": "JWT", "kid": auth.signing.active.kid}
    assert set(claims) == {"orgId", "meetingId", "participantId", "presetId", "iat", "exp", "jti"}
    assert claims["orgId"] == app_id and claims["meetingId"] == meeting_id
    assert claims["participantId"] == participant_id and claims["presetId"] == "preset-1"
    assert claims["exp"] - claims["iat"] == HUNDRED_DAYS and before <= claims["iat"] <= int(time.time())
    assert claims["jti"] == record.jti and record.expire_time.timestamp() == claims["exp"]
    # Verifies with nothing but the public key, as a third party would.
    public = keylib.load_public_pem(auth.signing.active.public_key_pem)
    assert jwt.decode(token, public, algorithms=["RS256"])["participantId"] == participant_id


async def test_ttl_override_and_bounds(auth):
    app_id = await _app(auth)
    token, _ = await _issue(auth, app_id, ttl_seconds=60)
    _, claims = _unverified(token)
    assert claims["exp"] - claims["iat"] == 60
    for bad in (0, -5, 367 * 86400):
        with pytest.raises(ApiError) as excinfo:
            await _issue(auth, app_id, ttl_seconds=bad)
        assert _reason(excinfo) == "INVALID_FIELD"


async def test_issue_validates_ids(auth):
    app_id = await _app(auth)
    meeting_id = auth.meetings.add(app_id)
    for args in [
        ("nope", meeting_id, str(uuid.uuid4()), "p"),
        (app_id, "", str(uuid.uuid4()), "p"),
        (app_id, meeting_id, "1; DROP TABLE x", "p"),
        (app_id, meeting_id, str(uuid.uuid4()), ""),
    ]:
        with pytest.raises(ApiError) as excinfo:
            await auth.tokens.issue(*args)
        assert _reason(excinfo) == "INVALID_FIELD"


async def test_verify_returns_claims(auth):
    app_id = await _app(auth)
    token, record = await _issue(auth, app_id)
    claims = await auth.tokens.verify(token, meeting_id=record.meeting_id)
    assert (claims.org_id, claims.meeting_id, claims.participant_id) == (app_id, record.meeting_id, record.participant_id)
    assert claims.token_id == record.jti and claims.exp - claims.iat == HUNDRED_DAYS


async def test_expired_token(auth):
    app_id = await _app(auth)
    past = ParticipantTokens(auth.store, auth.signing, auth.meetings, default_ttl=60, max_ttl=3600, leeway=0,
                             clock=lambda: time.time() - 3600)
    meeting_id = auth.meetings.add(app_id)
    token, _ = await past.issue(app_id, meeting_id, str(uuid.uuid4()), "p")
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify(token)
    assert _reason(excinfo) == "TOKEN_EXPIRED"


async def test_meeting_checks(auth):
    app_id = await _app(auth)
    token, record = await _issue(auth, app_id)
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify(token, meeting_id=str(uuid.uuid4()))
    assert _reason(excinfo) == "TOKEN_INVALID"
    auth.meetings.active[(app_id, record.meeting_id)] = False
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify(token)
    assert _reason(excinfo) == "MEETING_INACTIVE"
    del auth.meetings.active[(app_id, record.meeting_id)]
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify(token)
    assert _reason(excinfo) == "MEETING_NOT_FOUND"


async def test_revocation_keeps_the_excepted_token(auth):
    app_id = await _app(auth)
    meeting_id, participant_id = auth.meetings.add(app_id), str(uuid.uuid4())
    old, _ = await _issue(auth, app_id, meeting_id, participant_id)
    older, _ = await _issue(auth, app_id, meeting_id, participant_id)
    fresh, fresh_record = await _issue(auth, app_id, meeting_id, participant_id)
    other, _ = await _issue(auth, app_id, meeting_id)  # another participant: untouched
    assert await auth.tokens.revoke(app_id, participant_id, fresh_record.jti) == 2
    for token in (old, older):
        with pytest.raises(ApiError) as excinfo:
            await auth.tokens.verify(token)
        assert _reason(excinfo) == "TOKEN_REVOKED"
    await auth.tokens.verify(fresh)
    await auth.tokens.verify(other)
    assert await auth.tokens.revoke(app_id, participant_id, fresh_record.jti) == 0  # idempotent
    assert await auth.tokens.revoke(app_id, participant_id) == 1
    with pytest.raises(ApiError):
        await auth.tokens.verify(fresh)


async def test_forgeries_are_rejected(auth):
    app_id = await _app(auth)
    token, record = await _issue(auth, app_id)
    header_b64, payload_b64, signature_b64 = token.split(".")
    _, claims = _unverified(token)

    def reason_of(candidate: str):
        async def run() -> str:
            with pytest.raises(ApiError) as excinfo:
                await auth.tokens.verify(candidate)
            return excinfo.value.reason
        return run()

    # Payload changed (another participant), signature kept.
    tampered = _b64url(orjson.dumps({**claims, "participantId": str(uuid.uuid4())}))
    assert await reason_of(f"{header_b64}.{tampered}.{signature_b64}") == "TOKEN_INVALID"
    # alg=none.
    none_header = _b64url(orjson.dumps({"alg": "none", "typ": "JWT", "kid": auth.signing.active.kid}))
    assert await reason_of(f"{none_header}.{payload_b64}.") == "TOKEN_INVALID"
    # Algorithm confusion: HS256 keyed with the public PEM.
    hs_header = _b64url(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": auth.signing.active.kid}))
    mac = hmac.new(auth.signing.active.public_key_pem.encode(), f"{hs_header}.{payload_b64}".encode(), "sha256")
    assert await reason_of(f"{hs_header}.{payload_b64}.{_b64url(mac.digest())}") == "TOKEN_INVALID"
    # Signed by a key we do not know.
    stranger = keylib.generate_rsa_key()
    assert await reason_of(jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "unknown"})) == "TOKEN_INVALID"
    # Signed by a stranger but claiming our kid.
    assert await reason_of(
        jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": auth.signing.active.kid})
    ) == "TOKEN_INVALID"
    # Validly signed by our key but never issued (no record): rejected.
    unrecorded = jwt.encode({**claims, "jti": str(uuid.uuid4())}, auth.signing.active.private_key, algorithm="RS256",
                            headers={"kid": auth.signing.active.kid})
    assert await reason_of(unrecorded) == "TOKEN_INVALID"
    # Garbage.
    for junk in ("x", "a.b.c", "." * 3, "e" * 10_000):
        assert await reason_of(junk) == "TOKEN_INVALID"
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify("  ")
    assert _reason(excinfo) == "TOKEN_MISSING"
    await auth.tokens.verify(token)  # the genuine one still works


async def test_api_token_callers_only_verify_their_own_apps(auth):
    app_id = await _app(auth)
    other = await auth.directory.create_account("other")
    token, _ = await _issue(auth, app_id)
    owner = await auth.store.account_of_app(app_id)
    await auth.tokens.verify(token, account_id=owner)
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify(token, account_id=other.id)
    assert _reason(excinfo) == "TOKEN_INVALID"


async def test_rotation_old_key_verifies_until_retired(auth):
    app_id = await _app(auth)
    first_kid = auth.signing.active.kid
    old_token, _ = await _issue(auth, app_id)

    rotated = await auth.signing.rotate()
    assert rotated.state is KeyState.ACTIVE and auth.signing.active.kid == rotated.kid != first_kid
    new_token, _ = await _issue(auth, app_id)
    assert _unverified(new_token)[0]["kid"] == rotated.kid
    await auth.tokens.verify(old_token)
    await auth.tokens.verify(new_token)
    assert {k["kid"] for k in auth.signing.jwks()["keys"]} == {first_kid, rotated.kid}
    states = {r.kid: r.state for r in auth.signing.records()}
    assert states == {first_kid: KeyState.VERIFY_ONLY, rotated.kid: KeyState.ACTIVE}

    with pytest.raises(ApiError) as excinfo:
        await auth.signing.retire(rotated.kid)
    assert _reason(excinfo) == "INVALID_FIELD"
    with pytest.raises(ApiError) as excinfo:
        await auth.signing.retire("no-such-kid")
    assert _reason(excinfo) == "SIGNING_KEY_NOT_FOUND"

    retired = await auth.signing.retire(first_kid)
    assert retired.state is KeyState.RETIRED and retired.retire_time is not None
    with pytest.raises(ApiError) as excinfo:
        await auth.tokens.verify(old_token)
    assert _reason(excinfo) == "TOKEN_INVALID"
    await auth.tokens.verify(new_token)
    assert [k["kid"] for k in auth.signing.jwks()["keys"]] == [rotated.kid]


async def test_jwks_verifies_tokens_like_a_jwks_client(auth):
    app_id = await _app(auth)
    tokens = [(await _issue(auth, app_id))[0]]
    await auth.signing.rotate()
    tokens.append((await _issue(auth, app_id))[0])
    jwk_set = jwt.PyJWKSet.from_json(json.dumps(auth.signing.jwks()))
    for token in tokens:
        kid = jwt.get_unverified_header(token)["kid"]
        signing_key = next(k for k in jwk_set.keys if k.key_id == kid)
        claims = jwt.decode(token, signing_key.key, algorithms=["RS256"])
        assert claims["orgId"] == app_id


async def test_other_replica_learns_rotation_on_unknown_kid(auth):
    app_id = await _app(auth)
    replica_ring = KeyRing(AuthStore(auth.pool), auth.cipher, "signing")
    await replica_ring.ensure()
    replica = ParticipantTokens(auth.store, replica_ring, auth.meetings, default_ttl=3600, max_ttl=3600)
    await auth.signing.rotate()  # through "the other" replica
    token, _ = await _issue(auth, app_id)
    await replica.verify(token)  # unknown kid → reload → verifies
    assert replica_ring.active.kid == auth.signing.active.kid


async def test_ensure_is_idempotent_and_race_free(auth_pool):
    import asyncio

    domains = await asyncio.gather(*(make_domain(auth_pool) for _ in range(4)))
    assert len({d.signing.active.kid for d in domains}) == 1
    assert len(domains[0].signing.records()) == 1


async def test_private_keys_encrypted_at_rest(auth_pool):
    fernet_key = Fernet.generate_key().decode()
    # Start without a KEK (plain PEM), then with one: stored keys are re-sealed.
    plain = await make_domain(auth_pool)
    kid = plain.signing.active.kid
    rows = await auth_pool.fetch("SELECT private_key, private_key_encrypted FROM auth.signing_keys")
    assert all(not r["private_key_encrypted"] and bytes(r["private_key"]).startswith(b"-----BEGIN") for r in rows)

    sealed = await make_domain(auth_pool, fernet_key)
    assert sealed.signing.active.kid == kid
    for table in ("signing_keys", "webhook_keys"):
        for r in await auth_pool.fetch(f"SELECT private_key, private_key_encrypted FROM auth.{table}"):
            assert r["private_key_encrypted"] and b"PRIVATE KEY" not in bytes(r["private_key"])
    app_id = await _app(sealed)
    token, _ = await _issue(sealed, app_id)
    await sealed.tokens.verify(token)

    # Without the KEK the service refuses to start rather than run without its keys.
    with pytest.raises(KeyDecryptionError):
        await KeyRing(AuthStore(auth_pool), KeyCipher(""), "signing").ensure()
    with pytest.raises(KeyDecryptionError):
        await KeyRing(AuthStore(auth_pool), KeyCipher(Fernet.generate_key().decode()), "signing").ensure()


async def test_purge_deletes_only_long_expired_rows(auth):
    app_id = await _app(auth)
    past = ParticipantTokens(auth.store, auth.signing, auth.meetings, default_ttl=60, max_ttl=60,
                             clock=lambda: time.time() - 10 * 86400)
    await past.issue(app_id, auth.meetings.add(app_id), str(uuid.uuid4()), "p")
    live, _ = await _issue(auth, app_id)
    assert await auth.tokens.purge(older_than_seconds=86400) == 1
    assert await auth.tokens.purge(older_than_seconds=86400) == 0
    await auth.tokens.verify(live)


async def test_webhook_signature_verifies_with_published_key(auth):
    body = b'{"event":"meeting.started","meeting":{"id":"x"}}'
    kid, signature = auth.webhooks.sign(body)
    published_kid, pem = auth.webhooks.public_key()
    assert kid == published_kid and pem.startswith("-----BEGIN PUBLIC KEY-----")
    keylib.load_public_pem(pem).verify(base64.b64decode(signature), body, padding.PKCS1v15(), hashes.SHA256())


async def test_concurrent_issues_are_all_recorded_and_batched(auth):
    import asyncio

    app_id = await _app(auth)
    meeting_id = auth.meetings.add(app_id)
    statements: list[int] = []
    original = auth.store.insert_participant_tokens

    async def counting(tokens):
        statements.append(len(tokens))
        await original(tokens)

    auth.store.insert_participant_tokens = counting  # observe batching on the real store
    issued = await asyncio.gather(*(_issue(auth, app_id, meeting_id) for _ in range(200)))
    assert sum(statements) == 200 and len(statements) < 200  # fewer INSERTs than tokens
    assert await auth.pool.fetchval("SELECT count(*) FROM auth.participant_tokens WHERE app_id = $1", app_id) == 200
    for token, _ in issued[::40]:
        await auth.tokens.verify(token)


async def test_batch_failure_reaches_every_waiter_and_the_writer_recovers():
    import asyncio
    import datetime as dt

    from rtk_auth.domain.models import IssuedToken
    from rtk_auth.store.batch import BatchedTokenWriter

    class FlakyStore:
        def __init__(self) -> None:
            self.fail, self.rows = True, []

        async def insert_participant_tokens(self, tokens):
            await asyncio.sleep(0.01)
            if self.fail:
                self.fail = False
                raise ConnectionError("database down")
            self.rows.extend(tokens)

    now = dt.datetime.now(dt.UTC)

    def row() -> IssuedToken:
        return IssuedToken(str(uuid.uuid4()), "a", "m", "p", "preset", "kid", now, now)

    store = FlakyStore()
    writer = BatchedTokenWriter(store, max_inflight=1)  # type: ignore[arg-type]
    first = await asyncio.gather(*(writer.record(row()) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in first)
    second = await asyncio.gather(*(writer.record(row()) for _ in range(5)), return_exceptions=True)
    assert second == [None] * 5 and len(store.rows) == 5
    await writer.close()
