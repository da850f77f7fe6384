"""Meetings: `{base}/meetings` (reference §3.2, §4.2)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import ORJSONResponse
from google.protobuf import timestamp_pb2
from realtime.meeting.v1 import meeting_pb2, meeting_service_pb2
from rtkit.wire import from_rest, to_rest, update_mask

from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import Page, ok, paged
from rtk_gateway.rest.models.meetings import MeetingBody, MeetingPatchBody

router = APIRouter(prefix="/client/v4/accounts/{account_id}/realtime/kit/{app_id}", tags=["Meetings"])

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
MeetingId = Annotated[str, Path(max_length=64, description="Meeting id (UUID).")]
_STATUS = {"ACTIVE": meeting_pb2.MEETING_STATUS_ACTIVE, "INACTIVE": meeting_pb2.MEETING_STATUS_INACTIVE}
_SECRETS = ("access_key", "secret", "password", "private_key")


def meeting_json(meeting: meeting_pb2.Meeting) -> dict[str, Any]:
    """RealtimeKit's meeting object; write-only storage secrets are never rendered."""
    data = to_rest(meeting, omit=frozenset({"app_id"}))
    storage = (data.get("recording_config") or {}).get("storage_config")
    if isinstance(storage, dict):
        for key in _SECRETS:
            storage.pop(key, None)
    return data


def _meeting(body: MeetingBody) -> tuple[meeting_pb2.Meeting, dict[str, Any]]:
    data = body.model_dump(exclude_unset=True)
    return from_rest(data, meeting_pb2.Meeting), data  # type: ignore[return-value]


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


@router.get("/meetings", summary="List meetings")
async def list_meetings(
    app_id: AppId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
    search: Annotated[str | None, Query(max_length=255, description="Meeting id, or substring of the title.")] = None,
    status: Annotated[Literal["ACTIVE", "INACTIVE"] | None, Query(description="Only this status.")] = None,
    start_time: Annotated[dt.datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
    end_time: Annotated[dt.datetime | None, Query(description="Created at or before (ISO 8601).")] = None,
) -> ORJSONResponse:
    request = meeting_service_pb2.ListMeetingsRequest(
        app_id=app_id, page_size=page.per_page, skip=page.skip, search=search or "",
        status=_STATUS.get(status or "", meeting_pb2.MEETING_STATUS_UNSPECIFIED),
    )
    if start_time is not None:
        request.start_time.CopyFrom(_ts(start_time))
    if end_time is not None:
        request.end_time.CopyFrom(_ts(end_time))
    response = await call.clients.meetings.ListMeetings(request, metadata=call.metadata, timeout=call.timeout)
    return paged([meeting_json(m) for m in response.meetings], response.total_size, page)


@router.post("/meetings", summary="Create a meeting", status_code=201)
async def create_meeting(
    app_id: AppId, call: Annotated[GrpcCall, Depends(grpc_call)], body: MeetingBody | None = None
) -> ORJSONResponse:
    meeting, _ = _meeting(body or MeetingBody())
    response = await call.clients.meetings.CreateMeeting(
        meeting_service_pb2.CreateMeetingRequest(app_id=app_id, meeting=meeting),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(meeting_json(response.meeting), status=201)


@router.get("/meetings/{meeting_id}", summary="Fetch a meeting")
async def get_meeting(
    app_id: AppId,
    meeting_id: MeetingId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    name: Annotated[str | None, Query(max_length=255, description="Accepted and ignored (undocumented).")] = None,
) -> ORJSONResponse:
    response = await call.clients.meetings.GetMeeting(
        meeting_service_pb2.GetMeetingRequest(app_id=app_id, meeting_id=meeting_id),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(meeting_json(response.meeting))


@router.patch("/meetings/{meeting_id}", summary="Update a meeting")
async def update_meeting(
    app_id: AppId, meeting_id: MeetingId, body: MeetingPatchBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    meeting, data = _meeting(body)
    if not data:  # nothing to change: answer with the current meeting
        return await get_meeting(app_id, meeting_id, call)
    response = await call.clients.meetings.UpdateMeeting(
        meeting_service_pb2.UpdateMeetingRequest(
            app_id=app_id, meeting_id=meeting_id, meeting=meeting, update_mask=update_mask(data, meeting_pb2.Meeting)
        ),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(meeting_json(response.meeting))


@router.put("/meetings/{meeting_id}", summary="Replace a meeting")
async def replace_meeting(
    app_id: AppId, meeting_id: MeetingId, call: Annotated[GrpcCall, Depends(grpc_call)],
    body: MeetingBody | None = None,
) -> ORJSONResponse:
    meeting, _ = _meeting(body or MeetingBody())
    response = await call.clients.meetings.ReplaceMeeting(
        meeting_service_pb2.ReplaceMeetingRequest(app_id=app_id, meeting_id=meeting_id, meeting=meeting),
        metadata=call.metadata, timeout=call.timeout,
    )
    return ok(meeting_json(response.meeting))
