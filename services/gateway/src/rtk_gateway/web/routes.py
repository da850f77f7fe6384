"""Routes of the web module: static SDK/UI files, the meeting page, the per-token context and the
demo launcher. Business logic stays in the services: this module only verifies and forwards."""

from __future__ import annotations

import asyncio
import json
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import grpc
from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from realtime.auth.v1 import auth_service_pb2
from realtime.meeting.v1 import (
    meeting_pb2,
    meeting_service_pb2,
    participant_pb2,
    participant_service_pb2,
    preset_pb2,
    preset_service_pb2,
)
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError
from rtkit.wire import to_rest
from starlette.exceptions import HTTPException

from rtk_gateway.rest.envelope import ok
from rtk_gateway.web.settings import WebSettings

router = APIRouter(include_in_schema=False)

_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
    ".map": "application/json",
}
_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # the page URL carries the participant token
    "X-Content-Type-Options": "nosniff",
    "Permissions-Policy": "camera=(self), microphone=(self), display-capture=(self)",
}
# Presets the demo launcher may hand out links for.
DEMO_KINDS = {
    "group_call": ("group_call_host", "group_call_participant"),
    "webinar": ("webinar_presenter", "webinar_viewer"),
}
DEMO_WAITING_PRESET = "demo_waiting_room_guest"
_DEMO_PRESETS = {p for pair in DEMO_KINDS.values() for p in pair} | {DEMO_WAITING_PRESET}


@lru_cache(maxsize=1)
def _settings() -> WebSettings:
    return WebSettings()


def _clients(request: Request) -> Any:
    clients = request.app.state.clients
    if clients is None:
        raise ApiError("DEPENDENCY_UNAVAILABLE", "The gateway has no backend clients.")
    return clients


def _metadata(request: Request) -> tuple[tuple[str, str], ...]:
    return internal_metadata(request.app.state.settings.internal_token)


# -- static files and the meeting page -----------------------------------------------------------


@router.get("/web/{path:path}")
async def web_file(path: str) -> Response:
    root = _settings().web_root()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix not in _TYPES:
        raise _not_found()
    return FileResponse(
        target,
        media_type=_TYPES[target.suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


def _not_found() -> Exception:
    return HTTPException(404, "Not Found")


def _page(name: str) -> HTMLResponse:
    path = _settings().web_root() / name
    if not path.is_file():
        raise _not_found()
    return HTMLResponse(path.read_text(encoding="utf-8"), headers=_PAGE_HEADERS)


@router.get("/meeting")
async def meeting_page() -> HTMLResponse:
    """The meeting page; the browser reads `authToken` from the query string."""
    return _page("meeting.html")


# -- the caller's context ------------------------------------------------------------------------


def _participant_token(request: Request, auth_token: str | None) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return secret.strip()
    if auth_token:
        return auth_token
    raise ApiError("TOKEN_MISSING", "Missing 'Authorization: Bearer <participant token>'.")


@router.get("/v1/web/context")
async def context(
    request: Request, auth_token: Annotated[str | None, Query(alias="authToken", max_length=8192)] = None
) -> Response:
    """What the browser SDK needs before join: the preset (REST form, incl. `ui.design_tokens`),
    the participant (name, picture) and the meeting title. The token is verified first."""
    clients = _clients(request)
    token = _participant_token(request, auth_token)
    md = _metadata(request)
    timeout = clients.timeout
    verified = await clients.auth.VerifyParticipantToken(
        auth_service_pb2.VerifyParticipantTokenRequest(token=token), metadata=md, timeout=timeout
    )
    claims = verified.claims
    preset, participant, meeting = await asyncio.gather(
        clients.presets.GetPreset(
            preset_service_pb2.GetPresetRequest(app_id=claims.org_id, preset_id=claims.preset_id),
            metadata=md,
            timeout=timeout,
        ),
        clients.participants.GetParticipant(
            participant_service_pb2.GetParticipantRequest(
                app_id=claims.org_id, meeting_id=claims.meeting_id, participant_id=claims.participant_id
            ),
            metadata=md,
            timeout=timeout,
        ),
        clients.meetings.GetMeeting(
            meeting_service_pb2.GetMeetingRequest(app_id=claims.org_id, meeting_id=claims.meeting_id),
            metadata=md,
            timeout=timeout,
        ),
    )
    person = to_rest(participant.participant, omit=frozenset({"app_id"}))
    return ok(
        {
            "preset": to_rest(preset.preset, omit=frozenset({"app_id"})),
            "participant": {
                k: person.get(k) for k in ("id", "name", "picture", "custom_participant_id", "preset_name")
            },
            "meeting": {"id": meeting.meeting.id, "title": meeting.meeting.title},
        }
    )


# -- demo launcher (RTK_GATEWAY_DEMO=true) ---------------------------------------------------------


def _demo_app_id() -> str:
    settings = _settings()
    if not settings.gateway_demo:
        raise _not_found()
    if settings.gateway_demo_app_id:
        return settings.gateway_demo_app_id
    if settings.data_dir:
        path = Path(settings.data_dir) / "credentials.json"
        try:
            app_id = json.loads(path.read_text()).get("app_id")
        except (OSError, ValueError):
            app_id = None
        if app_id:
            return str(app_id)
    raise ApiError("DEPENDENCY_UNAVAILABLE", "The demo launcher has no app: set RTK_GATEWAY_DEMO_APP_ID.")


@router.get("/")
async def launcher() -> HTMLResponse:
    _demo_app_id()
    return _page("launcher.html")


async def _ensure_waiting_preset(request: Request, app_id: str) -> None:
    """A copy of group_call_participant that waits for a host (SKIP_ON_ACCEPT)."""
    clients, md = _clients(request), _metadata(request)
    try:
        await clients.presets.GetPresetByName(
            preset_service_pb2.GetPresetByNameRequest(app_id=app_id, name=DEMO_WAITING_PRESET),
            metadata=md,
            timeout=clients.timeout,
        )
        return
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.NOT_FOUND:
            raise
    source = await clients.presets.GetPresetByName(
        preset_service_pb2.GetPresetByNameRequest(app_id=app_id, name="group_call_participant"),
        metadata=md,
        timeout=clients.timeout,
    )
    preset = preset_pb2.Preset()
    preset.CopyFrom(source.preset)
    preset.ClearField("id")
    preset.name = DEMO_WAITING_PRESET
    preset.permissions.waiting_room_type = preset_pb2.WAITING_ROOM_TYPE_SKIP_ON_ACCEPT
    try:
        await clients.presets.CreatePreset(
            preset_service_pb2.CreatePresetRequest(app_id=app_id, preset=preset),
            metadata=md,
            timeout=clients.timeout,
        )
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:  # created concurrently
            raise


async def _add_participant(request: Request, app_id: str, meeting_id: str, preset: str, name: str) -> str:
    clients = _clients(request)
    response = await clients.participants.AddParticipant(
        participant_service_pb2.AddParticipantRequest(
            app_id=app_id,
            meeting_id=meeting_id,
            participant=participant_pb2.Participant(
                name=name, preset_name=preset, custom_participant_id=f"demo-{uuid.uuid4().hex[:12]}"
            ),
        ),
        metadata=_metadata(request),
        timeout=clients.timeout,
    )
    return response.token


def _meeting_url(token: str, name: str = "") -> str:
    query = {"authToken": token}
    if name:
        query["name"] = name
    return "/meeting?" + urlencode(query)


@router.post("/demo/meetings")
async def demo_create(
    request: Request,
    title: Annotated[str, Body(max_length=200)] = "Demo meeting",
    kind: Annotated[str, Body(pattern="^(group_call|webinar)$")] = "group_call",
    waiting_room: Annotated[bool, Body()] = False,
    host_name: Annotated[str, Body(max_length=100)] = "Host",
) -> Response:
    """Create a meeting; answer a host link (opened once) and a participant link (each opening
    adds a new participant)."""
    app_id = _demo_app_id()
    clients = _clients(request)
    created = await clients.meetings.CreateMeeting(
        meeting_service_pb2.CreateMeetingRequest(
            app_id=app_id, meeting=meeting_pb2.Meeting(title=title or "Demo meeting")
        ),
        metadata=_metadata(request),
        timeout=clients.timeout,
    )
    meeting_id = created.meeting.id
    host_preset, guest_preset = DEMO_KINDS[kind]
    if waiting_room and kind == "group_call":
        await _ensure_waiting_preset(request, app_id)
        guest_preset = DEMO_WAITING_PRESET
    host_token = await _add_participant(request, app_id, meeting_id, host_preset, host_name or "Host")
    join = f"/demo/meetings/{meeting_id}/join?" + urlencode({"preset": guest_preset})
    return ok(
        {
            "meeting_id": meeting_id,
            "title": created.meeting.title,
            "host_url": _meeting_url(host_token),
            "participant_url": join,
            "host_preset": host_preset,
            "participant_preset": guest_preset,
        }
    )


@router.get("/demo/meetings/{meeting_id}/join")
async def demo_join(
    request: Request,
    meeting_id: str,
    preset: Annotated[str, Query(max_length=100)] = "group_call_participant",
    name: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    """Add a participant to a demo meeting and redirect to its meeting page."""
    app_id = _demo_app_id()
    if preset not in _DEMO_PRESETS:
        raise ApiError("INVALID_FIELD", f"preset must be one of {sorted(_DEMO_PRESETS)}.")
    if preset == DEMO_WAITING_PRESET:
        await _ensure_waiting_preset(request, app_id)
    display = name or f"Guest {uuid.uuid4().hex[:4]}"
    token = await _add_participant(request, app_id, meeting_id, preset, display)
    return RedirectResponse(_meeting_url(token), status_code=303, headers=_PAGE_HEADERS)
