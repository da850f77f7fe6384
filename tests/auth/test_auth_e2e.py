"""Auth through the running stack: apps over REST, well-known keys, tenant isolation, and a
participant token issued by add-participant that verifies with the published JWKS."""

from __future__ import annotations

import base64
import uuid

import grpc
import httpx
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from realtime.auth.v1 import auth_service_pb2 as pb
from realtime.auth.v1 import auth_service_pb2_grpc
from rtkit.errors import decode_rpc_error


def _apps_url(account_id: str) -> str:
    return f"/client/v4/accounts/{account_id}/realtime/kit/apps"


async def _new_tenant(stack, name: str) -> tuple[str, str]:
    """A second account with its own API token, made with the internal credential."""
    internal = (("x-rtk-internal-token", stack.internal_token),)
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        account = (await stub.CreateAccount(pb.CreateAccountRequest(name=name), metadata=internal)).account
        token = await stub.CreateApiToken(pb.CreateApiTokenRequest(account_id=account.id), metadata=internal)
    return account.id, token.secret


async def test_apps_over_rest(stack):
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    async with stack.client() as client:
        created = await client.post(_apps_url(stack.account_id), json={"name": name})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["success"] is True and set(body["data"]) == {"app"}
        app = body["data"]["app"]
        assert set(app) == {"id", "name", "created_at"} and app["name"] == name
        assert app["created_at"].endswith("Z")

        duplicate = await client.post(_apps_url(stack.account_id), json={"name": name})
        assert duplicate.status_code == 409 and duplicate.json()["error"]["reason"] == "APP_NAME_TAKEN"
        empty = await client.post(_apps_url(stack.account_id), json={})
        assert empty.status_code == 400 and empty.json()["success"] is False

        listed = await client.get(_apps_url(stack.account_id), params={"per_page": 100})
        assert listed.status_code == 200
        data = listed.json()
        assert data["success"] is True and isinstance(data["data"], list)
        ids = [a["id"] for a in data["data"]]
        assert app["id"] in ids and stack.app_id in ids
        assert data["paging"]["total_count"] == len(ids) and data["paging"]["start_offset"] == 1

        searched = await client.get(_apps_url(stack.account_id), params={"search": name.upper()})
        assert [a["id"] for a in searched.json()["data"]] == [app["id"]]
        ascending = await client.get(_apps_url(stack.account_id), params={"sort_order": "ASC", "per_page": 1})
        assert ascending.json()["data"][0]["id"] == stack.app_id  # the bootstrap app is the oldest
        second_page = await client.get(_apps_url(stack.account_id), params={"sort_order": "ASC", "per_page": 1,
                                                                             "page_no": 2})
        assert second_page.json()["paging"]["start_offset"] == 2


async def test_apps_tenant_isolation_over_rest(stack):
    other_account, other_token = await _new_tenant(stack, "e2e-other")
    async with stack.client(other_token) as other:
        mine = await other.post(_apps_url(other_account), json={"name": "private"})
        assert mine.status_code == 201
        # Another account's path with my token: refused, nothing listed or created.
        for response in (
            await other.get(_apps_url(stack.account_id)),
            await other.post(_apps_url(stack.account_id), json={"name": "intruder"}),
        ):
            assert response.status_code == 403 and response.json()["success"] is False
        listed = await other.get(_apps_url(other_account))
        assert [a["name"] for a in listed.json()["data"]] == ["private"]
        # And another account's app-scoped routes are invisible.
        probe = await other.get(f"/client/v4/accounts/{other_account}/realtime/kit/{stack.app_id}/meetings")
        assert probe.status_code == 404
    async with stack.client() as client:
        listed = await client.get(_apps_url(stack.account_id), params={"per_page": 100})
        assert mine.json()["data"]["app"]["id"] not in [a["id"] for a in listed.json()["data"]]
    async with httpx.AsyncClient(base_url=stack.gateway_url) as anonymous:
        assert (await anonymous.get(_apps_url(stack.account_id))).status_code == 401
        bogus = await anonymous.get(_apps_url(stack.account_id), headers={"Authorization": "Bearer rtk_bogus"})
        assert bogus.status_code == 401


async def test_well_known_documents(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        jwks = await client.get("/.well-known/jwks.json")
        assert jwks.status_code == 200 and jwks.headers["content-type"].startswith("application/json")
        keys = jwks.json()["keys"]
        assert keys and all(k["kty"] == "RSA" and k["alg"] == "RS256" and "d" not in k for k in keys)
        hooks = await client.get("/.well-known/webhooks.json")
        assert hooks.status_code == 200
        body = hooks.json()
        assert body["success"] is True and body["message"] == ""
        assert body["data"]["publicKey"].startswith("-----BEGIN PUBLIC KEY-----")

    # A body signed by the auth service verifies with the published key (what receivers do).
    payload = b'{"event":"meeting.started"}'
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        signed = await stub.SignWebhookPayload(
            pb.SignWebhookPayloadRequest(body=payload), metadata=(("x-rtk-internal-token", stack.internal_token),)
        )
    public = load_pem_public_key(body["data"]["publicKey"].encode())
    public.verify(base64.b64decode(signed.signature), payload, padding.PKCS1v15(), hashes.SHA256())


async def test_participant_token_verifies_with_jwks_and_auth_service(stack):
    async with stack.client() as client:
        meeting = (await client.post(f"{stack.base}/meetings", json={"title": "auth e2e"})).json()["data"]
        added = await client.post(
            f"{stack.base}/meetings/{meeting['id']}/participants",
            json={"name": "Ada", "preset_name": "group_call_participant", "custom_participant_id": "ada"},
        )
        assert added.status_code == 201, added.text
        participant = added.json()["data"]
        token = participant["token"]
        jwks = (await client.get("/.well-known/jwks.json")).json()

    header = jwt.get_unverified_header(token)
    key = next(k for k in jwt.PyJWKSet.from_dict(jwks).keys if k.key_id == header["kid"])
    claims = jwt.decode(token, key.key, algorithms=["RS256"])
    assert claims["orgId"] == stack.app_id and claims["meetingId"] == meeting["id"]
    assert claims["participantId"] == participant["id"] and claims["presetId"]
    assert claims["exp"] - claims["iat"] == 100 * 24 * 3600

    internal = (("x-rtk-internal-token", stack.internal_token),)
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        verified = await stub.VerifyParticipantToken(
            pb.VerifyParticipantTokenRequest(token=token, meeting_id=meeting["id"]), metadata=internal
        )
        assert verified.claims.participant_id == participant["id"] and verified.claims.token_id == claims["jti"]

        async def reason(candidate: str) -> str | None:
            try:
                await stub.VerifyParticipantToken(pb.VerifyParticipantTokenRequest(token=candidate), metadata=internal)
            except grpc.aio.AioRpcError as exc:
                return decode_rpc_error(exc).reason
            return None

        async with stack.client() as client:
            url = f"{stack.base}/meetings/{meeting['id']}/participants/{participant['id']}"
            # Editing a participant answers with a new token and revokes the older ones.
            edited = await client.patch(url, json={"name": "Ada L."})
            assert edited.status_code == 200, edited.text
            new_token = edited.json()["data"]["token"]
            assert await reason(token) == "TOKEN_REVOKED"
            assert await reason(new_token) is None
            # An inactive meeting cannot be joined.
            patched = await client.patch(f"{stack.base}/meetings/{meeting['id']}", json={"status": "INACTIVE"})
            assert patched.status_code == 200, patched.text
            assert await reason(new_token) == "MEETING_INACTIVE"
            await client.patch(f"{stack.base}/meetings/{meeting['id']}", json={"status": "ACTIVE"})
            assert await reason(new_token) is None
            # Deleting the participant revokes every token it had.
            assert (await client.delete(url)).status_code == 200
            assert await reason(new_token) == "TOKEN_REVOKED"
