"""The real AuthService over gRPC: caller identity, tenant isolation, token flow, webhooks."""

from __future__ import annotations

import base64
import json
import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from realtime.auth.v1 import app_pb2, token_pb2
from realtime.auth.v1 import auth_service_pb2 as pb
from rtkit.errors import decode_rpc_error


async def _fails(call, reason: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call
    decoded = decode_rpc_error(excinfo.value)
    assert decoded.reason == reason, (decoded.reason, decoded.message)
    return excinfo.value


async def _tenant(server, name: str):
    """An account with one app and one API token."""
    account = (await server.stub.CreateAccount(pb.CreateAccountRequest(name=name), metadata=server.internal)).account
    token = await server.stub.CreateApiToken(
        pb.CreateApiTokenRequest(account_id=account.id, name="t"), metadata=server.internal
    )
    app = (await server.stub.CreateApp(
        pb.CreateAppRequest(name=f"{name}-app"), metadata=server.bearer(token.secret)
    )).app
    return account, app, token.secret, token.api_token.id


async def test_internal_rpcs_require_the_internal_token(auth_server):
    s = auth_server
    _, _, secret, _ = await _tenant(s, "a")
    internal_calls = [
        lambda md: s.stub.CreateAccount(pb.CreateAccountRequest(name="x"), metadata=md),
        lambda md: s.stub.AuthenticateApiToken(pb.AuthenticateApiTokenRequest(secret=secret), metadata=md),
        lambda md: s.stub.IssueParticipantToken(pb.IssueParticipantTokenRequest(), metadata=md),
        lambda md: s.stub.BatchIssueParticipantTokens(pb.BatchIssueParticipantTokensRequest(), metadata=md),
        lambda md: s.stub.RevokeParticipantTokens(pb.RevokeParticipantTokensRequest(), metadata=md),
        lambda md: s.stub.RotateSigningKey(pb.RotateSigningKeyRequest(), metadata=md),
        lambda md: s.stub.RetireSigningKey(pb.RetireSigningKeyRequest(kid="x"), metadata=md),
        lambda md: s.stub.ListSigningKeys(pb.ListSigningKeysRequest(), metadata=md),
        lambda md: s.stub.SignWebhookPayload(pb.SignWebhookPayloadRequest(body=b"x"), metadata=md),
        lambda md: s.stub.Bootstrap(pb.BootstrapRequest(), metadata=md),
        lambda md: s.stub.CreateApiToken(pb.CreateApiTokenRequest(account_id=str(uuid.uuid4())), metadata=md),
        lambda md: s.stub.RevokeApiToken(pb.RevokeApiTokenRequest(token_id=str(uuid.uuid4())), metadata=md),
    ]
    for call in internal_calls:
        await _fails(call(s.bearer(secret)), "FORBIDDEN")
        await _fails(call(()), "TOKEN_MISSING")
        await _fails(call((("x-rtk-internal-token", "wrong"),)), "API_CREDENTIALS_INVALID")
    await _fails(s.stub.GetJwks(pb.GetJwksRequest(), metadata=s.bearer("rtk_nope")), "API_CREDENTIALS_INVALID")


async def test_tenant_isolation(auth_server):
    s = auth_server
    account_a, app_a, secret_a, _ = await _tenant(s, "a")
    account_b, app_b, secret_b, _ = await _tenant(s, "b")

    got = await s.stub.GetApp(pb.GetAppRequest(app_id=app_a.id), metadata=s.bearer(secret_a))
    assert got.app.account_id == account_a.id and got.app.name == "a-app"
    await _fails(s.stub.GetApp(pb.GetAppRequest(app_id=app_b.id), metadata=s.bearer(secret_a)), "APP_NOT_FOUND")
    await _fails(s.stub.GetApp(pb.GetAppRequest(app_id="nope"), metadata=s.bearer(secret_a)), "APP_NOT_FOUND")

    listed = await s.stub.ListApps(pb.ListAppsRequest(), metadata=s.bearer(secret_a))
    assert [a.id for a in listed.apps] == [app_a.id] and listed.total_size == 1
    await _fails(
        s.stub.ListApps(pb.ListAppsRequest(account_id=account_b.id), metadata=s.bearer(secret_a)), "FORBIDDEN"
    )
    await _fails(s.stub.ListApps(pb.ListAppsRequest(), metadata=s.bearer(secret_a, account_b.id)), "FORBIDDEN")
    await _fails(
        s.stub.CreateApp(pb.CreateAppRequest(account_id=account_b.id, name="sneaky"), metadata=s.bearer(secret_a)),
        "FORBIDDEN",
    )
    # The gateway forwards the path account: allowed when it is the token's own.
    listed = await s.stub.ListApps(pb.ListAppsRequest(), metadata=s.bearer(secret_a, account_a.id))
    assert [a.id for a in listed.apps] == [app_a.id]
    # Internal callers see any app.
    assert (await s.stub.GetApp(pb.GetAppRequest(app_id=app_b.id), metadata=s.internal)).app.account_id == account_b.id
    all_apps = await s.stub.ListApps(pb.ListAppsRequest(), metadata=s.internal)
    assert {a.id for a in all_apps.apps} >= {app_a.id, app_b.id}
    await _fails(s.stub.CreateApp(pb.CreateAppRequest(name="x"), metadata=s.internal), "INVALID_FIELD")


async def test_create_and_list_apps(auth_server):
    s = auth_server
    account, app, secret, _ = await _tenant(s, "acme")
    await _fails(s.stub.CreateApp(pb.CreateAppRequest(name="acme-app"), metadata=s.bearer(secret)), "APP_NAME_TAKEN")
    for i in range(3):
        await s.stub.CreateApp(pb.CreateAppRequest(name=f"extra-{i}"), metadata=s.bearer(secret))
    page = await s.stub.ListApps(
        pb.ListAppsRequest(page_size=2, order=app_pb2.SORT_ORDER_ASC), metadata=s.bearer(secret)
    )
    assert [a.name for a in page.apps] == ["acme-app", "extra-0"] and page.total_size == 4
    page = await s.stub.ListApps(
        pb.ListAppsRequest(page_size=2, order=app_pb2.SORT_ORDER_ASC, page_token=page.next_page_token),
        metadata=s.bearer(secret),
    )
    assert [a.name for a in page.apps] == ["extra-1", "extra-2"] and page.next_page_token == ""
    found = await s.stub.ListApps(pb.ListAppsRequest(search="EXTRA-1"), metadata=s.bearer(secret))
    assert [a.name for a in found.apps] == ["extra-1"]
    # Internal callers create apps in a named account.
    made = await s.stub.CreateApp(pb.CreateAppRequest(account_id=account.id, name="ops"), metadata=s.internal)
    assert made.app.account_id == account.id and made.app.create_time.seconds > 0


async def test_api_token_lifecycle(auth_server):
    s = auth_server
    account, app, secret, token_id = await _tenant(s, "acme")
    auth = await s.stub.AuthenticateApiToken(pb.AuthenticateApiTokenRequest(secret=secret), metadata=s.internal)
    assert (auth.account_id, auth.token_id) == (account.id, token_id)
    await _fails(
        s.stub.AuthenticateApiToken(pb.AuthenticateApiTokenRequest(secret="rtk_wrong"), metadata=s.internal),
        "API_CREDENTIALS_INVALID",
    )
    revoked = await s.stub.RevokeApiToken(pb.RevokeApiTokenRequest(token_id=token_id), metadata=s.internal)
    assert revoked.api_token.HasField("revoke_time")
    await _fails(
        s.stub.AuthenticateApiToken(pb.AuthenticateApiTokenRequest(secret=secret), metadata=s.internal),
        "API_CREDENTIALS_INVALID",
    )


async def test_participant_token_flow(auth_server):
    s = auth_server
    account, app, secret, _ = await _tenant(s, "acme")
    _, other_app, other_secret, _ = await _tenant(s, "other")
    meeting_id, participant_id, preset_id = s.meetings.add(app.id), str(uuid.uuid4()), str(uuid.uuid4())

    issued = await s.stub.IssueParticipantToken(
        pb.IssueParticipantTokenRequest(
            app_id=app.id, meeting_id=meeting_id, participant_id=participant_id, preset_id=preset_id
        ),
        metadata=s.internal,
    )
    claims = jwt.decode(issued.token, options={"verify_signature": False})
    assert claims["jti"] == issued.token_id and claims["exp"] == issued.expire_time.seconds
    assert claims["exp"] - claims["iat"] == 100 * 86400

    verified = await s.stub.VerifyParticipantToken(
        pb.VerifyParticipantTokenRequest(token=issued.token, meeting_id=meeting_id), metadata=s.internal
    )
    assert verified.claims == token_pb2.ParticipantTokenClaims(
        org_id=app.id, meeting_id=meeting_id, participant_id=participant_id, preset_id=preset_id,
        iat=claims["iat"], exp=claims["exp"], token_id=issued.token_id,
    )
    # The meeting service was asked with the internal credential.
    assert s.meeting_service.seen_metadata[-1]["x-rtk-internal-token"] == s.internal[0][1]
    # An API token of the owning account may verify; another account's may not.
    await s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=issued.token), metadata=s.bearer(secret))
    await _fails(
        s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=issued.token), metadata=s.bearer(other_secret)),
        "TOKEN_INVALID",
    )
    await _fails(
        s.stub.VerifyParticipantToken(
            pb.VerifyParticipantTokenRequest(token=issued.token, meeting_id=str(uuid.uuid4())), metadata=s.internal
        ),
        "TOKEN_INVALID",
    )
    s.meetings.active[(app.id, meeting_id)] = False
    await _fails(
        s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=issued.token), metadata=s.internal),
        "MEETING_INACTIVE",
    )
    del s.meetings.active[(app.id, meeting_id)]
    await _fails(
        s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=issued.token), metadata=s.internal),
        "MEETING_NOT_FOUND",
    )
    s.meetings.active[(app.id, meeting_id)] = True

    # Refresh: a new token, then revoke every other one.
    refreshed = await s.stub.IssueParticipantToken(
        pb.IssueParticipantTokenRequest(
            app_id=app.id, meeting_id=meeting_id, participant_id=participant_id, preset_id=preset_id, ttl_seconds=600
        ),
        metadata=s.internal,
    )
    revoked = await s.stub.RevokeParticipantTokens(
        pb.RevokeParticipantTokensRequest(app_id=app.id, participant_id=participant_id, except_token_id=refreshed.token_id),
        metadata=s.internal,
    )
    assert revoked.revoked_count == 1
    await _fails(
        s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=issued.token), metadata=s.internal),
        "TOKEN_REVOKED",
    )
    await s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=refreshed.token), metadata=s.internal)
    await _fails(
        s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=""), metadata=s.internal), "TOKEN_MISSING"
    )
    await _fails(
        s.stub.IssueParticipantToken(
            pb.IssueParticipantTokenRequest(app_id=other_app.id, meeting_id="x", participant_id=participant_id,
                                            preset_id="p"),
            metadata=s.internal,
        ),
        "INVALID_FIELD",
    )


async def test_batch_issue_answers_in_request_order_and_is_all_or_nothing(auth_server):
    import asyncpg

    s = auth_server
    _, app, _, _ = await _tenant(s, "batch")
    meeting_id = s.meetings.add(app.id)
    participants = [str(uuid.uuid4()) for _ in range(20)]

    def request(participant_id: str, preset_id: str = "preset") -> pb.IssueParticipantTokenRequest:
        return pb.IssueParticipantTokenRequest(app_id=app.id, meeting_id=meeting_id, participant_id=participant_id,
                                               preset_id=preset_id)

    issued = await s.stub.BatchIssueParticipantTokens(
        pb.BatchIssueParticipantTokensRequest(requests=[request(p) for p in participants]), metadata=s.internal
    )
    assert len(issued.responses) == len(participants)
    for participant_id, response in zip(participants, issued.responses, strict=True):
        verified = await s.stub.VerifyParticipantToken(
            pb.VerifyParticipantTokenRequest(token=response.token, meeting_id=meeting_id), metadata=s.internal
        )
        assert verified.claims.participant_id == participant_id
        assert verified.claims.token_id == response.token_id

    # One bad item fails the batch, names its position, and writes no row for the good ones.
    good = str(uuid.uuid4())
    error = await _fails(
        s.stub.BatchIssueParticipantTokens(
            pb.BatchIssueParticipantTokensRequest(requests=[request(good), request("not-a-uuid")]), metadata=s.internal
        ),
        "INVALID_FIELD",
    )
    assert "requests[1].participant_id" in error.details()
    conn = await asyncpg.connect(s.database_url)
    try:
        rows = await conn.fetchval("SELECT count(*) FROM auth.participant_tokens WHERE participant_id = $1", good)
    finally:
        await conn.close()
    assert rows == 0
    await _fails(
        s.stub.BatchIssueParticipantTokens(pb.BatchIssueParticipantTokensRequest(), metadata=s.internal),
        "INVALID_FIELD",
    )


async def test_key_rotation_over_grpc(auth_server):
    s = auth_server
    _, app, secret, _ = await _tenant(s, "acme")
    meeting_id = s.meetings.add(app.id)

    async def issue() -> str:
        return (await s.stub.IssueParticipantToken(
            pb.IssueParticipantTokenRequest(app_id=app.id, meeting_id=meeting_id, participant_id=str(uuid.uuid4()),
                                            preset_id="p"),
            metadata=s.internal,
        )).token

    old = await issue()
    keys = (await s.stub.ListSigningKeys(pb.ListSigningKeysRequest(), metadata=s.internal)).signing_keys
    assert len(keys) == 1 and keys[0].state == token_pb2.SIGNING_KEY_STATE_ACTIVE
    old_kid = keys[0].kid
    rotated = await s.stub.RotateSigningKey(pb.RotateSigningKeyRequest(), metadata=s.internal)
    assert rotated.kid != old_kid and rotated.signing_key.state == token_pb2.SIGNING_KEY_STATE_ACTIVE
    new = await issue()
    assert jwt.get_unverified_header(new)["kid"] == rotated.kid

    jwks = await s.stub.GetJwks(pb.GetJwksRequest(), metadata=s.bearer(secret))
    document = json.loads(jwks.jwks_json)
    assert {k["kid"] for k in document["keys"]} == {k.kid for k in jwks.keys} == {old_kid, rotated.kid}
    key_set = jwt.PyJWKSet.from_dict(document)
    for token in (old, new):
        kid = jwt.get_unverified_header(token)["kid"]
        jwt.decode(token, next(k for k in key_set.keys if k.key_id == kid).key, algorithms=["RS256"])

    await _fails(s.stub.RetireSigningKey(pb.RetireSigningKeyRequest(kid=rotated.kid), metadata=s.internal), "INVALID_FIELD")
    await _fails(s.stub.RetireSigningKey(pb.RetireSigningKeyRequest(kid="nope"), metadata=s.internal),
                 "SIGNING_KEY_NOT_FOUND")
    await s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=old), metadata=s.internal)
    retired = await s.stub.RetireSigningKey(pb.RetireSigningKeyRequest(kid=old_kid), metadata=s.internal)
    assert retired.signing_key.state == token_pb2.SIGNING_KEY_STATE_RETIRED
    await _fails(s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=old), metadata=s.internal),
                 "TOKEN_INVALID")
    await s.stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=new), metadata=s.internal)
    jwks = await s.stub.GetJwks(pb.GetJwksRequest(), metadata=s.internal)
    assert [k.kid for k in jwks.keys] == [rotated.kid]


async def test_webhook_signing(auth_server):
    s = auth_server
    body = json.dumps({"event": "meeting.started", "meeting": {"id": str(uuid.uuid4())}}).encode()
    signed = await s.stub.SignWebhookPayload(pb.SignWebhookPayloadRequest(body=body), metadata=s.internal)
    published = await s.stub.GetWebhookPublicKey(pb.GetWebhookPublicKeyRequest(), metadata=s.internal)
    assert signed.kid == published.kid
    public = load_pem_public_key(published.public_key_pem.encode())
    public.verify(base64.b64decode(signed.signature), body, padding.PKCS1v15(), hashes.SHA256())


async def test_bootstrap_over_grpc(auth_server):
    s = auth_server
    first = await s.stub.Bootstrap(pb.BootstrapRequest(account_name="default", app_name="default"), metadata=s.internal)
    assert first.created and first.api_token_secret and first.api_token.account_id == first.account.id
    second = await s.stub.Bootstrap(pb.BootstrapRequest(), metadata=s.internal)
    assert not second.created and second.api_token_secret == "" and not second.HasField("api_token")
    assert (second.account.id, second.app.id) == (first.account.id, first.app.id)
    got = await s.stub.GetApp(pb.GetAppRequest(app_id=first.app.id), metadata=s.bearer(first.api_token_secret))
    assert got.app.account_id == first.account.id
