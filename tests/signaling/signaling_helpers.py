"""Helpers of the signaling tests (conftest modules are not importable by name)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from realtimekit import RealtimeKitClient
from stack_support import RestApi

Connect = Callable[..., Awaitable[RealtimeKitClient]]


class Api(RestApi):
    """REST calls as the bootstrap account, plus waiting-room preset copies."""

    def __init__(self, stack: Any) -> None:
        super().__init__(stack, title="signaling test")

    async def waiting_room_preset(self, mode: str, base: str = "group_call_participant") -> str:
        """A copy of `base` with permissions.waiting_room_type = mode; returns its name."""
        return await self.preset_copy(base, permissions={"waiting_room_type": mode}, prefix=f"wr-{mode.lower()}")


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
