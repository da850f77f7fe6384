"""Sessions: `{base}/sessions…` (reference §3.5, §4.5), plus the signed chat-export download.

Every route forwards the caller's API token to SessionService (the orchestrator), which
authorises the app; this module only translates RealtimeKit's query parameters and shapes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import ORJSONResponse, Response
from google.protobuf import timestamp_pb2
from realtime.session.v1 import peer_pb2, session_pb2
from realtime.session.v1 import session_service_pb2 as pb
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError, invalid_field
from rtkit.wire import enum_to_wire, timestamp_to_wire

from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import Page, ok

router = APIRouter(tags=["Sessions"])
_BASE = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}"

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
SessionId = Annotated[str, Path(max_length=64, description="Session id (UUID).")]
PeerId = Annotated[str, Path(max_length=64, description="Peer id (UUID).")]
_STATUS = {"LIVE": session_pb2.SESSION_STATUS_LIVE, "ENDED": session_pb2.SESSION_STATUS_ENDED}
_ORDER = {"ASC": session_pb2.SORT_ORDER_ASC, "DESC": session_pb2.SORT_ORDER_DESC}
_SESSION_SORT = {"createdAt": pb.SESSION_SORT_FIELD_CREATE_TIME, "minutesConsumed": pb.SESSION_SORT_FIELD_MINUTES_CONSUMED}
_PEER_SORT = {"joinedAt": pb.PEER_SORT_FIELD_JOIN_TIME, "duration": pb.PEER_SORT_FIELD_DURATION}
_RANGE = re.compile(r"^\s*(\d*)\s*:\s*(\d*)\s*$")


def _ts(message: Any, field: str) -> str | None:
    return timestamp_to_wire(getattr(message, field)) if message.HasField(field) else None


def session_json(session: session_pb2.Session) -> dict[str, Any]:
    """RealtimeKit's session object (CF shape)."""
    return {
        "id": session.id,
        "associated_id": session.meeting_id,
        "meeting_display_name": session.meeting_display_name,
        "type": enum_to_wire(session_pb2.SessionType.DESCRIPTOR, session.type) or "meeting",
        "status": enum_to_wire(session_pb2.SessionStatus.DESCRIPTOR, session.status),
        "live_participants": session.live_participants,
        "max_concurrent_participants": session.max_concurrent_participants,
        "minutes_consumed": round(session.minutes_consumed, 2),
        "organization_id": session.app_id,
        "started_at": _ts(session, "start_time"),
        "created_at": _ts(session, "create_time"),
        "updated_at": _ts(session, "update_time"),
        "ended_at": _ts(session, "end_time"),
        "breakout_rooms": [],
    }


def peer_event_json(event: peer_pb2.PeerEvent) -> dict[str, Any]:
    created = _ts(event, "create_time")
    return {
        "id": event.id,
        "created_at": created,
        "updated_at": created,
        "event_name": enum_to_wire(peer_pb2.PeerEventName.DESCRIPTOR, event.event_name),
        "minutes_consumed": round(event.minutes_consumed, 2),
        "participant_id": event.participant_id,
        "peer_id": event.peer_id,
        "session_id": event.session_id,
        "socket_session_id": event.socket_session_id,
        "preset_view_type": enum_to_wire(event.DESCRIPTOR.fields_by_name["preset_view_type"].enum_type,
                                         event.preset_view_type),
    }


def peer_json(peer: peer_pb2.Peer, *, include_events: bool = False) -> dict[str, Any]:
    """A session participant (keyed by peer id, reference §4.5.1)."""
    data: dict[str, Any] = {
        "id": peer.id,
        "user_id": peer.participant_id,
        "custom_participant_id": peer.custom_participant_id,
        "display_name": peer.display_name,
        "preset_name": peer.preset_name,
        "joined_at": _ts(peer, "join_time"),
        "left_at": _ts(peer, "leave_time"),
        "duration": round(peer.duration_minutes, 2),
        "created_at": _ts(peer, "create_time"),
        "updated_at": _ts(peer, "update_time"),
    }
    if include_events:
        data["peer_events"] = [peer_event_json(e) for e in peer.peer_events]
    return data


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


@router.get(_BASE + "/sessions", summary="List sessions")
async def list_sessions(
    app_id: AppId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
    status: Annotated[Literal["LIVE", "ENDED"] | None, Query(description="Only this status.")] = None,
    associated_id: Annotated[str | None, Query(max_length=64, description="Only this meeting's sessions.")] = None,
    search: Annotated[str | None, Query(max_length=255, description="Meeting title substring, or an id.")] = None,
    start_time: Annotated[dt.datetime | None, Query(description="Started at or after (ISO 8601).")] = None,
    end_time: Annotated[dt.datetime | None, Query(description="Started at or before (ISO 8601).")] = None,
    participants: Annotated[str | None, Query(max_length=32, description="Participant-count range 'min:max'.")] = None,
    sort_by: Annotated[Literal["createdAt", "minutesConsumed"] | None, Query()] = None,
    sort_order: Annotated[Literal["ASC", "DESC"] | None, Query()] = None,
) -> ORJSONResponse:
    request = pb.ListSessionsRequest(
        app_id=app_id, page_size=page.per_page, skip=page.skip,
        status=_STATUS.get(status or "", session_pb2.SESSION_STATUS_UNSPECIFIED),
        meeting_id=associated_id or "", search=search or "",
        sort_by=_SESSION_SORT.get(sort_by or "", pb.SESSION_SORT_FIELD_UNSPECIFIED),
        sort_order=_ORDER.get(sort_order or "", session_pb2.SORT_ORDER_UNSPECIFIED),
    )
    if participants:
        match = _RANGE.match(participants)
        if match is None:
            raise invalid_field("participants", "must look like 'min:max'")
        request.min_participants = int(match.group(1) or 0)
        request.max_participants = int(match.group(2) or 0)
    if start_time is not None:
        request.start_time.CopyFrom(_timestamp(start_time))
    if end_time is not None:
        request.end_time.CopyFrom(_timestamp(end_time))
    response = await call.clients.sessions.ListSessions(request, metadata=call.metadata, timeout=call.timeout)
    return ok({"sessions": [session_json(s) for s in response.sessions]},
              paging=page.paging(response.total_size, len(response.sessions)))


@router.get(_BASE + "/sessions/peer-report/{peer_id}", summary="Peer report")
async def peer_report(
    app_id: AppId,
    peer_id: PeerId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    filters: Annotated[str | None, Query(max_length=255, description="Accepted; the report has metadata only.")] = None,
    include_peer_events: Annotated[bool, Query()] = False,
) -> ORJSONResponse:
    response = await call.clients.sessions.GetPeerReport(
        pb.GetPeerReportRequest(app_id=app_id, peer_id=peer_id, include_peer_events=include_peer_events),
        metadata=call.metadata, timeout=call.timeout,
    )
    participant = peer_json(response.peer, include_events=include_peer_events)
    participant["role"] = response.peer.preset_name
    participant["session_id"] = response.peer.session_id
    meta = response.report.metadata
    participant["peer_report"] = {
        "metadata": {
            "sdk_name": meta.sdk_name,
            "sdk_version": meta.sdk_version,
            "browser_metadata": {"user_agent": meta.user_agent},
            "device_info": {"os": meta.os, "is_mobile": meta.is_mobile},
            "ip_information": {"ip": meta.ip_address} if meta.ip_address else {},
            "room_view_type": enum_to_wire(meta.DESCRIPTOR.fields_by_name["room_view_type"].enum_type,
                                           meta.room_view_type),
        },
        "quality": {},
    }
    return ok({"participant": participant})


@router.get(_BASE + "/sessions/{session_id}", summary="Fetch a session")
async def get_session(
    app_id: AppId,
    session_id: SessionId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    include_breakout_rooms: Annotated[bool, Query()] = False,
) -> ORJSONResponse:
    response = await call.clients.sessions.GetSession(
        pb.GetSessionRequest(app_id=app_id, session_id=session_id), metadata=call.metadata, timeout=call.timeout
    )
    return ok(session_json(response.session))


@router.get(_BASE + "/sessions/{session_id}/participants", summary="Participants (peers) of a session")
async def list_session_participants(
    app_id: AppId,
    session_id: SessionId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
    search: Annotated[str | None, Query(max_length=255)] = None,
    sort_by: Annotated[Literal["joinedAt", "duration"] | None, Query()] = None,
    sort_order: Annotated[Literal["ASC", "DESC"] | None, Query()] = None,
    include_peer_events: Annotated[bool, Query()] = False,
    view: Annotated[Literal["raw", "consolidated"] | None, Query()] = None,
) -> ORJSONResponse:
    response = await call.clients.sessions.ListSessionParticipants(
        pb.ListSessionParticipantsRequest(
            app_id=app_id, session_id=session_id, page_size=page.per_page, skip=page.skip, search=search or "",
            sort_by=_PEER_SORT.get(sort_by or "", pb.PEER_SORT_FIELD_UNSPECIFIED),
            sort_order=_ORDER.get(sort_order or "", session_pb2.SORT_ORDER_UNSPECIFIED),
            include_peer_events=include_peer_events),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok({"participants": [peer_json(p, include_events=include_peer_events) for p in response.peers]},
              paging=page.paging(response.total_size, len(response.peers)))


@router.get(_BASE + "/sessions/{session_id}/participants/{participant_id}", summary="One session participant")
async def get_session_participant(
    app_id: AppId,
    session_id: SessionId,
    participant_id: PeerId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    include_peer_events: Annotated[bool, Query()] = False,
) -> ORJSONResponse:
    response = await call.clients.sessions.GetSessionParticipant(
        pb.GetSessionParticipantRequest(app_id=app_id, session_id=session_id, peer_id=participant_id,
                                        include_peer_events=include_peer_events),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok({"participant": peer_json(response.peer, include_events=include_peer_events)})


@router.get(_BASE + "/sessions/{session_id}/chat", summary="Download URL of the session's chat")
async def get_session_chat(
    app_id: AppId, session_id: SessionId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.sessions.GetSessionChat(
        pb.GetSessionChatRequest(app_id=app_id, session_id=session_id), metadata=call.metadata, timeout=call.timeout
    )
    return ok({"chat_download_url": response.chat_download_url,
               "chat_download_url_expiry": timestamp_to_wire(response.chat_download_url_expire_time)})


@router.get("/v1/exports/sessions/{session_id}/chat.csv", summary="Chat export (signed link)",
            include_in_schema=False)
async def download_session_chat(
    request: Request,
    session_id: SessionId,
    app_id: Annotated[str, Query(pattern=ID_PATTERN)],
    expires: Annotated[int, Query(ge=0)],
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    settings = request.app.state.settings
    clients = request.app.state.clients
    if not settings.internal_token:
        raise ApiError("DEPENDENCY_UNAVAILABLE", "Downloads need RTK_INTERNAL_TOKEN.")
    response = await clients.sessions.ExportSessionChat(
        pb.ExportSessionChatRequest(app_id=app_id, session_id=session_id, expires=expires, signature=signature),
        metadata=internal_metadata(settings.internal_token), timeout=clients.timeout,
    )
    return Response(response.csv, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{response.file_name}"'})


