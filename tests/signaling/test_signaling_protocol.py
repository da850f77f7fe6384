"""The raw WebSocket protocol: auth before anything, typed errors that keep the connection
usable (malformed, unknown, oversized, out-of-order, rate-limited), heartbeats."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest
from realtimekit import AuthError, RealtimeKitClient
from realtimekit.client import token_claims
from signaling_helpers import issue_token, joined, next_message, reply_to


def ws_url(stack, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return stack.gateway_url.replace("http://", "ws://") + "/v1/signal" + (f"?{query}" if query else "")


async def refused(stack, **params: str) -> tuple[dict, int | None]:
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(stack, **params)) as ws:
        message = await next_message(ws)
        frame = await ws.receive()
        assert frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        return message, ws.close_code


async def test_protocol_errors_keep_the_connection_usable(stack, api):
    meeting_id = await api.meeting()
    token = await api.token(meeting_id, "group_call_host")
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(stack, authToken=token)) as ws:
        async def problem(payload: str | bytes) -> dict:
            await (ws.send_bytes(payload) if isinstance(payload, bytes) else ws.send_str(payload))
            return (await next_message(ws, lambda m: "error" in m))

        cases = {
            "{not json": "malformedJson",
            "[1, 2]": "malformedJson",
            json.dumps({"requestId": "u", "fooBar": {}}): "unknownMessageType",
            json.dumps({"requestId": "e"}): "unknownMessageType",
            json.dumps({"requestId": "t", "join": {}, "leave": {}}): "invalidMessage",
            json.dumps({"requestId": "v", "chatSend": {"message": "x", "nope": 1}}): "invalidMessage",
            json.dumps({"requestId": "big", "chatSend": {"message": "x" * 70_000}}): "messageTooLarge",
            json.dumps({"requestId": "early", "chatSend": {"message": "hi"}}): "notJoined",
            b"\x00\x01": "binaryFrame",
        }
        for payload, expected in cases.items():
            error = (await problem(payload))["error"]
            assert error["metadata"]["problem"] == expected, (payload[:40], error)
            assert error["reason"] in ("INVALID_FIELD", "NOT_ADMITTED")
        echoed = await problem(json.dumps({"requestId": "u2", "fooBar": {}}))
        assert echoed["requestId"] == "u2"

        # After all that, the connection works.
        await ws.send_str(json.dumps({"requestId": "hb", "heartbeat": {}}))
        assert "ack" in await next_message(ws, reply_to("hb"))
        await ws.send_str(json.dumps({"requestId": "j", "join": {"displayName": "Raw"}}))
        joined_reply = (await next_message(ws, reply_to("j")))["joinResponse"]
        assert joined_reply["roomState"] == "ROOM_STATE_JOINED" and joined_reply["peerId"]
        assert joined_reply["self"]["name"] == "Raw" and joined_reply["resumeToken"]
        await ws.send_str(json.dumps({"requestId": "j2", "join": {}}))
        assert (await next_message(ws, reply_to("j2")))["error"]["metadata"]["problem"] == "alreadyJoined"
        await ws.send_str(json.dumps({"request_id": "c", "chat_send": {"message": "ok"}}))  # proto names work too
        assert (await next_message(ws, reply_to("c")))["chatMessage"]["message"] == "ok"
        await ws.send_str(json.dumps({"requestId": "l", "leave": {}}))
        assert "ack" in await next_message(ws, reply_to("l"))
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 1000


async def test_flooding_is_rate_limited_not_fatal(stack, api):
    token = await api.token(await api.meeting())
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(stack, authToken=token)) as ws:
        for i in range(130):
            await ws.send_str(json.dumps({"requestId": f"f{i}", "heartbeat": {}}))
        replies = [await next_message(ws, reply_to(f"f{i}")) for i in range(130)]
        limited = [r for r in replies if "error" in r]
        assert limited and all(r["error"]["code"] == "0013" for r in limited)
        assert int(limited[0]["error"]["metadata"]["retryAfterMs"]) > 0
        await asyncio.sleep(0.2)  # the bucket refills (50 messages per second)
        await ws.send_str(json.dumps({"requestId": "after", "heartbeat": {}}))
        assert "ack" in await next_message(ws, reply_to("after"))


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJtZWV0aW5nSWQiOiJ4In0.sig"])
async def test_bad_tokens_are_refused_with_a_typed_error(stack, token):
    params = {"authToken": token} if token else {}
    message, code = await refused(stack, **params)
    assert message["error"]["code"] == "0004"
    assert message["error"]["reason"] == ("TOKEN_MISSING" if not token else "TOKEN_INVALID")
    assert code == 4001


async def test_another_meetings_token_is_refused(stack, api):
    mine, other = await api.meeting(), await api.meeting()
    token = await api.token(other)
    message, code = await refused(stack, authToken=token, meetingId=mine)
    assert message["error"]["code"] in ("0004", "0404") and code == 4001


async def test_expired_and_deleted_participant_tokens_are_refused(stack, api, connect):
    meeting_id = await api.meeting()
    participant = await api.participant(meeting_id)
    claims = token_claims(participant["token"])
    short = await issue_token(stack, app_id=claims["orgId"], meeting_id=meeting_id,
                              participant_id=claims["participantId"], preset_id=claims["presetId"], ttl_seconds=1)
    exp = token_claims(short)["exp"]
    await asyncio.sleep(max(0.0, exp - time.time()) + 1.05)  # expiry is a matter of the clock
    with pytest.raises(AuthError) as expired:
        await RealtimeKitClient.init(auth_token=short, base_url=stack.gateway_url)
    assert expired.value.reason == "TOKEN_EXPIRED"

    await joined(connect, participant["token"])
    response = await api.http.delete(f"{stack.base}/meetings/{meeting_id}/participants/{participant['id']}")
    assert response.status_code == 200, response.text
    with pytest.raises(AuthError) as revoked:
        await RealtimeKitClient.init(auth_token=participant["token"], base_url=stack.gateway_url)
    assert revoked.value.reason == "TOKEN_REVOKED"


async def test_sdk_rejects_a_malformed_token_before_connecting(stack):
    with pytest.raises(AuthError) as invalid:
        await RealtimeKitClient.init(auth_token="not-a-jwt", base_url=stack.gateway_url)
    assert invalid.value.code == "0004"
