"""Helpers of the signaling tests (conftest modules are not importable by name)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from realtimekit import RealtimeKitClient

Connect = Callable[..., Awaitable[RealtimeKitClient]]


class Api:
    """REST calls as the bootstrap account (creating meetings, participants, presets)."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.http = stack.client()
        self._presets: dict[str, dict[str, Any]] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def _ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, self.stack.base + path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()["data"]

    async def meeting(self, title: str = "signaling test") -> str:
        data = await self._ok("POST", "/meetings", json={"title": title})
        return data["id"]

    async def participant(self, meeting_id: str, preset_name: str = "group_call_participant",
                          name: str | None = None) -> dict[str, Any]:
        body = {"name": name or f"user-{uuid.uuid4().hex[:6]}", "preset_name": preset_name,
                "custom_participant_id": f"cp-{uuid.uuid4().hex[:10]}"}
        return await self._ok("POST", f"/meetings/{meeting_id}/participants", json=body)

    async def token(self, meeting_id: str, preset_name: str = "group_call_participant", name: str | None = None) -> str:
        return (await self.participant(meeting_id, preset_name, name))["token"]

    async def preset(self, name: str) -> dict[str, Any]:
        if name not in self._presets:
            items = await self._ok("GET", "/presets", params={"per_page": 100})
            match = next(p for p in items if p["name"] == name)
            self._presets[name] = await self._ok("GET", f"/presets/{match['id']}")
        return self._presets[name]

    async def waiting_room_preset(self, mode: str, base: str = "group_call_participant") -> str:
        """A copy of `base` with permissions.waiting_room_type = mode; returns its name."""
        source = await self.preset(base)
        name = f"wr-{mode.lower()}-{uuid.uuid4().hex[:6]}"
        body = {k: v for k, v in source.items() if k in ("config", "permissions", "ui")}
        body["name"] = name
        body["permissions"] = dict(body["permissions"], waiting_room_type=mode)
        await self._ok("POST", "/presets", json=body)
        return name


async def joined(connect: Connect, token: str, **options: Any) -> RealtimeKitClient:
    meeting = await connect(token, **options)
    await meeting.join()
    return meeting


async def issue_token(stack: Any, *, app_id: str, meeting_id: str, participant_id: str, preset_id: str,
                      ttl_seconds: int) -> str:
    """A participant token straight from AuthService (for short lifetimes)."""
    async with grpc.aio.insecure_channel(stack.grpc["auth"]) as channel:
        stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        response = await stub.IssueParticipantToken(
            auth_service_pb2.IssueParticipantTokenRequest(
                app_id=app_id, meeting_id=meeting_id, participant_id=participant_id, preset_id=preset_id,
                ttl_seconds=ttl_seconds,
            ),
            metadata=(("x-rtk-internal-token", stack.internal_token),),
        )
    return response.token


async def next_message(ws: Any, predicate: Callable[[dict[str, Any]], bool] = lambda m: True,
                       within: float = 10.0) -> dict[str, Any]:
    """The next JSON ServerMessage on a raw WebSocket that satisfies `predicate` (others skipped)."""
    import asyncio
    import json

    import aiohttp

    async def _read() -> dict[str, Any]:
        while True:
            frame = await ws.receive()
            if frame.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {frame.type} {ws.close_code}")
            message = json.loads(frame.data)
            if predicate(message):
                return message

    return await asyncio.wait_for(_read(), within)


def reply_to(request_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("requestId") == request_id


async def until(condition: Callable[[], bool], emitter: Any, event: str, within: float = 10.0) -> None:
    """Wait until `condition()` holds, checking now and after each `event` of `emitter`."""
    if condition():
        return
    await emitter.wait_for(event, lambda *_: condition(), timeout=within)
