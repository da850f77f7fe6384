"""`POST …/meetings/{meeting_id}/participants` without FastAPI's per-request machinery.

Adding participants is the one REST call a backend makes in bulk (a webinar's backend adds its
whole audience before the start). For it, FastAPI's router matching, dependency solving and
middleware stack cost more CPU than the request's own work: 0.22 ms of 0.53 ms of gateway CPU
per add (docs/benchmarks.md). This ASGI layer answers the requests it can answer exactly as the
FastAPI route in rest/participants.py would, with the same code (`participants.add`, the same
pydantic model, the same error table), and hands every other request to FastAPI unchanged:
other routes, a missing or malformed `Authorization`, a content type other than JSON, a body
that is not a valid JSON object or fails validation. So the route stays the one definition
(OpenAPI, and every error message), and the fast path only skips work.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError

from rtk_gateway.rest import participants
from rtk_gateway.rest.deps import bearer_secret, forwarded_metadata
from rtk_gateway.rest.errors import response_for
from rtk_gateway.rest.models.participants import AddParticipantBody

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# The route's path parameters and their constraints (deps.ID_PATTERN, MeetingId's max_length).
_ADD_PATH = re.compile(
    r"/client/v4/accounts/([A-Za-z0-9_-]{1,64})/realtime/kit/([A-Za-z0-9_-]{1,64})/meetings/([^/]{1,64})/participants"
)
_JSON_TYPE = re.compile(rb"application/json\s*(;.*)?", re.IGNORECASE | re.DOTALL)
_JSON_HEADERS = (b"content-type", b"application/json")


class AddParticipantFastPath:
    def __init__(self, app: FastAPI) -> None:
        self.app = app  # everything this layer does not answer
        self._state = app.state  # .clients: the gRPC clients, set by create_app
        # The route this layer stands in for: scope["route"] names the server span as FastAPI would.
        self._route = next((r for r in app.routes if isinstance(r, APIRoute) and "POST" in r.methods
                            and r.path == participants.router.prefix), None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _ADD_PATH.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if match is None:
            return await self.app(scope, receive, send)
        authorization = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization" and authorization is None:
                authorization = value
            elif name == b"content-type" and content_type is None:
                content_type = value
        secret = bearer_secret(authorization.decode("latin-1")) if authorization is not None else None
        if secret is None or (content_type is not None and not _JSON_TYPE.fullmatch(content_type)):
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:
            return  # the client went away
        added = _parse(body)
        if added is None:
            return await self.app(scope, _replay(body, receive), send)
        clients = self._state.clients
        if clients is None:
            return await self.app(scope, _replay(body, receive), send)
        account_id, app_id, meeting_id = match.groups()
        if self._route is not None:
            scope["route"] = self._route
        try:
            data = await participants.add(clients, forwarded_metadata(secret, account_id), app_id, meeting_id, added)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an envelope, as FastAPI's handlers do
            return await response_for(exc, scope["path"])(scope, receive, send)
        payload = orjson.dumps({"success": True, "data": data})
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-length", str(len(payload)).encode()), _JSON_HEADERS]})
        await send({"type": "http.response.body", "body": payload})


def _parse(body: bytes) -> AddParticipantBody | None:
    """The validated body, or None where FastAPI must answer (it words the 400)."""
    if not body:
        return None
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    try:
        return AddParticipantBody.model_validate(value)
    except ValidationError:
        return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
