"""Recordings: `{base}/recordings…` (reference §3.7, §4.8), plus the signed download route
`/v1/recordings/{id}/download?exp=…&sig=…` (the link in `download_url`).

Every `{base}` route forwards the caller's API token to RecordingService (the recording service),
which authorises the app; this module only translates RealtimeKit's bodies and shapes. The
download route needs no API token: the HMAC in the link (checked by the recording service, key
derived from RTK_INTERNAL_TOKEN) is the credential, until `exp`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import urllib.parse
from typing import Annotated, Any, Literal

import grpc
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import ORJSONResponse, RedirectResponse, Response, StreamingResponse
from google.protobuf import timestamp_pb2
from pydantic import Field
from realtime.meeting.v1 import meeting_service_pb2
from realtime.recording.v1 import recording_pb2 as R
from realtime.recording.v1 import recording_service_pb2 as pb
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError
from rtkit.wire import enum_to_wire, from_rest, timestamp_to_wire

from rtk_gateway.rest.deps import ID_PATTERN, GrpcCall, grpc_call
from rtk_gateway.rest.envelope import Page, ok
from rtk_gateway.rest.meetings import meeting_json
from rtk_gateway.rest.models.meetings import (
    AudioConfigBody,
    BucketConfigBody,
    LiveStreamingConfigBody,
    StorageConfigBody,
    Strict,
    Text,
    VideoConfigBody,
)

router = APIRouter(tags=["Recordings"])
_BASE = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}"

AppId = Annotated[str, Path(pattern=ID_PATTERN, description="App id.")]
RecordingId = Annotated[str, Path(max_length=64, description="Recording id (UUID).")]
MeetingId = Annotated[str, Path(max_length=64, description="Meeting id (UUID).")]
_STATUSES = ("INVOKED", "RECORDING", "UPLOADING", "UPLOADED", "ERRORED", "PAUSED")
_ACTIONS = {"stop": pb.RECORDING_ACTION_STOP, "pause": pb.RECORDING_ACTION_PAUSE, "resume": pb.RECORDING_ACTION_RESUME}
_FILE_KINDS = {R.RECORDING_FILE_KIND_COMPOSITE: "composite", R.RECORDING_FILE_KIND_AUDIO: "audio",
               R.RECORDING_FILE_KIND_TRACK: "track"}


# -- bodies -------------------------------------------------------------------------------------
class InteractiveConfigBody(Strict):
    type: Literal["ID3"] | None = None


class StartRecordingBody(Strict):
    meeting_id: Text(64, 1)
    max_seconds: Annotated[int, Field(ge=60, le=86_400)] | None = None
    file_name_prefix: Text(256) | None = None
    video_config: VideoConfigBody | None = None
    audio_config: AudioConfigBody | None = None
    storage_config: StorageConfigBody | None = None
    realtimekit_bucket_config: BucketConfigBody | None = None
    dyte_bucket_config: BucketConfigBody | None = None
    rtmp_out_config: LiveStreamingConfigBody | None = None
    allow_multiple_recordings: bool | None = None
    interactive_config: InteractiveConfigBody | None = None
    url: Text(2048) | None = None


class TrackLayerBody(Strict):
    file_name_prefix: Text(256) | None = None
    media_kind: Literal["audio", "video"] | None = None


class StartTrackRecordingBody(Strict):
    meeting_id: Text(64, 1)
    layers: dict[Text(64, 1), TrackLayerBody] | None = Field(default=None, max_length=16)
    user_ids: list[Text(64, 1)] | None = Field(default=None, max_length=100)
    max_seconds: Annotated[int, Field(ge=60, le=86_400)] | str | None = None
    allow_multiple_recordings: bool | None = None


class ControlBody(Strict):
    action: Literal["stop", "pause", "resume"]


# -- shapes -------------------------------------------------------------------------------------
def _ts(message: Any, field: str) -> str | None:
    return timestamp_to_wire(getattr(message, field)) if message.HasField(field) else None


def _caller(caller: R.Caller) -> dict[str, Any] | None:
    if caller.type == R.CALLER_TYPE_UNSPECIFIED:
        return None
    return {"type": enum_to_wire(R.CallerType.DESCRIPTOR, caller.type), "user_Id": caller.user_id or None,
            "name": caller.name or None}


def _reason(message: Any, enum: Any) -> dict[str, Any] | None:
    if not message.reason:
        return None
    out: dict[str, Any] = {"reason": enum_to_wire(enum, message.reason)}
    caller = _caller(message.caller)
    if caller is not None:
        out["caller"] = caller
    return out


def file_json(f: R.RecordingFile) -> dict[str, Any]:
    data: dict[str, Any] = {"name": f.name, "kind": _FILE_KINDS.get(f.kind), "codec": f.codec,
                            "content_type": f.content_type, "size": f.size_bytes,
                            "duration": round(f.duration_seconds, 3), "download_url": f.download_url or None}
    if f.kind == R.RECORDING_FILE_KIND_TRACK:
        data.update(peer_id=f.peer_id, user_id=f.user_id, stream_kind=f.track_kind, display_name=f.display_name,
                    start_offset=round(f.start_offset_seconds, 3))
    return data


def recording_json(rec: R.Recording, meeting: dict[str, Any] | None = None) -> dict[str, Any]:
    """RealtimeKit's recording object (CF shape) plus `meeting_id`, `type`, `files`, `error`."""
    data: dict[str, Any] = {
        "id": rec.id,
        "status": enum_to_wire(R.RecordingStatus.DESCRIPTOR, rec.status),
        "output_file_name": rec.output_file_name or None,
        "invoked_time": _ts(rec, "invoke_time"),
        "started_time": _ts(rec, "start_time"),
        "stopped_time": _ts(rec, "stop_time"),
        "recording_duration": rec.recording_duration if rec.HasField("recording_duration") else None,
        "session_id": rec.session_id or None,
        "meeting_id": rec.meeting_id,
        "type": enum_to_wire(R.RecordingType.DESCRIPTOR, rec.type),
        "download_url": rec.download_url or None,
        "audio_download_url": rec.audio_download_url or None,
        "download_url_expiry": _ts(rec, "download_url_expire_time"),
        "file_size": rec.file_size if rec.HasField("file_size") else None,
        "start_reason": _reason(rec.start_reason, R.StartReasonType.DESCRIPTOR),
        "stop_reason": _reason(rec.stop_reason, R.StopReasonType.DESCRIPTOR),
        "storage_config": None,
        "files": [file_json(f) for f in rec.files],
    }
    if rec.HasField("storage_config"):
        data["storage_config"] = {k: v for k, v in {
            "type": enum_to_wire(rec.storage_config.DESCRIPTOR.fields_by_name["type"].enum_type,
                                 rec.storage_config.type),
            "bucket": rec.storage_config.bucket, "region": rec.storage_config.region,
            "path": rec.storage_config.path, "host": rec.storage_config.host}.items() if v}
    if rec.error_message:
        data["error"] = rec.error_message
    if rec.type == R.RECORDING_TYPE_TRACK and rec.layers:
        data["layers"] = {name: {"file_name_prefix": layer.file_name_prefix or None,
                                 "media_kind": layer.media_kind or "audio"} for name, layer in rec.layers.items()}
    if meeting is not None:
        data["meeting"] = meeting
    return data


def _timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


# -- routes -------------------------------------------------------------------------------------
@router.get(_BASE + "/recordings", summary="List recordings")
async def list_recordings(
    app_id: AppId,
    call: Annotated[GrpcCall, Depends(grpc_call)],
    page: Annotated[Page, Depends()],
    meeting_id: Annotated[str | None, Query(max_length=64, description="Only this meeting's recordings.")] = None,
    status: Annotated[list[Literal[_STATUSES]] | None, Query(description="Only these statuses.")] = None,  # type: ignore[valid-type]
    search: Annotated[str | None, Query(max_length=255, description="Meeting id or title, recording id.")] = None,
    start_time: Annotated[dt.datetime | None, Query(description="Invoked at or after (ISO 8601).")] = None,
    end_time: Annotated[dt.datetime | None, Query(description="Invoked at or before (ISO 8601).")] = None,
    sort_by: Annotated[Literal["invokedTime"] | None, Query()] = None,
    sort_order: Annotated[Literal["ASC", "DESC"] | None, Query()] = None,
    expired: Annotated[bool | None, Query(description="Only recordings whose links expired (or not).")] = None,
) -> ORJSONResponse:
    request = pb.ListRecordingsRequest(
        app_id=app_id, page_size=page.per_page, skip=page.skip, meeting_id=meeting_id or "", search=search or "",
        statuses=[R.RecordingStatus.Value(f"RECORDING_STATUS_{s}") for s in (status or [])],
        ascending=sort_order == "ASC",
    )
    if start_time is not None:
        request.start_time.CopyFrom(_timestamp(start_time))
    if end_time is not None:
        request.end_time.CopyFrom(_timestamp(end_time))
    if expired is not None:
        request.expired = expired
    response = await call.clients.recordings.ListRecordings(request, metadata=call.metadata, timeout=call.timeout)
    meetings = await _meetings(call, app_id, {r.meeting_id for r in response.recordings})
    items = [recording_json(r, meetings.get(r.meeting_id)) for r in response.recordings]
    return ok(items, paging=page.paging(response.total_size, len(items)))


async def _meetings(call: GrpcCall, app_id: str, ids: set[str]) -> dict[str, dict[str, Any]]:
    """The `meeting` of list items (one GetMeeting per distinct meeting; a deleted one is null)."""

    async def one(meeting_id: str) -> tuple[str, dict[str, Any] | None]:
        try:
            response = await call.clients.meetings.GetMeeting(
                meeting_service_pb2.GetMeetingRequest(app_id=app_id, meeting_id=meeting_id),
                metadata=call.metadata, timeout=call.timeout)
        except grpc.aio.AioRpcError:
            return meeting_id, None
        return meeting_id, meeting_json(response.meeting)

    results = await asyncio.gather(*(one(i) for i in ids if i))
    return {k: v for k, v in results if v is not None}


@router.post(_BASE + "/recordings", summary="Start a composite recording")
async def start_recording(
    app_id: AppId, body: StartRecordingBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    data = body.model_dump(exclude_unset=True, exclude_none=True)
    bucket = data.pop("realtimekit_bucket_config", None) or data.pop("dyte_bucket_config", None)
    data.pop("dyte_bucket_config", None)
    interactive = data.pop("interactive_config", None) or {}
    request = from_rest(data, pb.StartRecordingRequest)
    request.app_id = app_id
    if bucket is not None:
        request.realtimekit_bucket_config.enabled = bucket["enabled"]
    if interactive.get("type"):
        request.interactive_config_type = interactive["type"]
    response = await call.clients.recordings.StartRecording(request, metadata=call.metadata, timeout=call.timeout)
    return ok(recording_json(response.recording))


@router.post(_BASE + "/recordings/track", summary="Start a per-track recording")
async def start_track_recording(
    app_id: AppId, body: StartTrackRecordingBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    request = pb.StartTrackRecordingRequest(app_id=app_id, meeting_id=body.meeting_id,
                                            user_ids=body.user_ids or [],
                                            allow_multiple_recordings=bool(body.allow_multiple_recordings))
    for name, layer in (body.layers or {}).items():
        request.layers[name].CopyFrom(R.TrackLayer(file_name_prefix=layer.file_name_prefix or "",
                                                   media_kind=layer.media_kind or "audio"))
    if body.max_seconds is not None:
        try:
            seconds = int(body.max_seconds)
        except ValueError:
            raise ApiError("INVALID_FIELD", "max_seconds: must be a number of seconds",
                           field_violations=[("max_seconds", "not a number")]) from None
        request.max_seconds = seconds
    response = await call.clients.recordings.StartTrackRecording(request, metadata=call.metadata,
                                                                 timeout=call.timeout)
    return ok({"recording": recording_json(response.recording)})


@router.get(_BASE + "/recordings/active-recording/{meeting_id}", summary="The meeting's active recording")
async def active_recording(
    app_id: AppId, meeting_id: MeetingId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.recordings.GetActiveRecording(
        pb.GetActiveRecordingRequest(app_id=app_id, meeting_id=meeting_id), metadata=call.metadata,
        timeout=call.timeout)
    return ok(recording_json(response.recording))


@router.get(_BASE + "/recordings/{recording_id}", summary="Fetch a recording")
async def get_recording(
    app_id: AppId, recording_id: RecordingId, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.recordings.GetRecording(
        pb.GetRecordingRequest(app_id=app_id, recording_id=recording_id), metadata=call.metadata,
        timeout=call.timeout)
    return ok(recording_json(response.recording))


@router.put(_BASE + "/recordings/{recording_id}", summary="Stop, pause or resume a recording")
async def control_recording(
    app_id: AppId, recording_id: RecordingId, body: ControlBody, call: Annotated[GrpcCall, Depends(grpc_call)]
) -> ORJSONResponse:
    response = await call.clients.recordings.ControlRecording(
        pb.ControlRecordingRequest(app_id=app_id, recording_id=recording_id, action=_ACTIONS[body.action]),
        metadata=call.metadata, timeout=call.timeout)
    return ok(recording_json(response.recording))


@router.get("/v1/recordings/{recording_id}/download", summary="Recording file (signed link)",
            include_in_schema=False)
async def download_recording(
    request: Request,
    recording_id: RecordingId,
    exp: Annotated[int, Query(ge=0)],
    sig: Annotated[str, Query(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")],
    file: Annotated[str, Query(max_length=512)] = "",
) -> Response:
    settings = request.app.state.settings
    clients = request.app.state.clients
    if exp < time.time():
        raise ApiError("FORBIDDEN", "The download link has expired.")
    if not settings.internal_token:
        raise ApiError("DEPENDENCY_UNAVAILABLE", "Downloads need RTK_INTERNAL_TOKEN.")
    stream = clients.recordings.DownloadRecording(
        pb.DownloadRecordingRequest(recording_id=recording_id, file=file, expires=exp, signature=sig),
        metadata=internal_metadata(settings.internal_token), timeout=3600)
    first = await stream.read()
    if first is grpc.aio.EOF:
        raise ApiError("RECORDING_NOT_FOUND", f"No downloadable recording {recording_id}.")
    if first.redirect_url:
        stream.cancel()
        return RedirectResponse(first.redirect_url, status_code=307)

    async def body():
        try:
            while True:
                message = await stream.read()
                if message is grpc.aio.EOF:
                    return
                yield message.chunk
        finally:
            stream.cancel()

    name = urllib.parse.quote(first.file_name)
    return StreamingResponse(body(), media_type=first.content_type or "application/octet-stream", headers={
        "Content-Length": str(first.size_bytes),
        "Content-Disposition": f"attachment; filename*=UTF-8''{name}",
        "Cache-Control": "private, no-store",
    })
