"""Domain events → RealtimeKit webhook bodies (reference §6.4). Pure functions.

Common `meeting` block (camelCase, keys in this order):

    {"id": <meeting id>, "sessionId": <session id>, "title": <meeting title | null>,
     "roomName": <meeting id>, "status": "LIVE", "createdAt": <meeting created>,
     "startedAt": <session started>, "endedAt": <session ended, only once known>,
     "organizedBy": {"id": <app id>, "name": <app name>}}

| Webhook event               | Body                                                                      |
|-----------------------------|---------------------------------------------------------------------------|
| `meeting.started`           | `{event, meeting}`                                                        |
| `meeting.ended`             | `{event, meeting, reason: HOST_ENDED_MEETING \\| ALL_PARTICIPANTS_LEFT}`  |
| `meeting.participantJoined` | `{event, meeting, participant: {peerId, userDisplayName,                  |
|                             |   customParticipantId, clientSpecificId, joinedAt}}`                      |
| `meeting.participantLeft`   | the same plus `participant.leftAt`                                        |
| `meeting.chatSynced`        | flat `{event, sessionId, meetingId, title, chatDownloadUrl,               |
|                             |   chatDownloadUrlExpiry, createdAt, startedAt, endedAt, organizedBy}`     |
| `recording.statusUpdate`    | `{event, recording: {id, recordingId, status, downloadUrl, …, roomUUID,   |
|                             |   stopReason?}, meeting}` (from `recording_status_changed`)               |

`status` is "LIVE" in every RealtimeKit example, `meeting.ended` included, so it is constant.
Timestamps are ISO 8601 UTC with milliseconds (`2024-05-01T10:00:00.000Z`); the chat URL expiry
(Unix seconds in the domain event) is rendered the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from realtime.session.v1 import session_pb2
from rtkit import wire

from rtk_meeting.webhooks import catalogue


@dataclass(frozen=True, slots=True)
class Context:
    """What a body needs besides the event: the meeting row and the app's name."""

    app_id: str
    app_name: str
    meeting_id: str
    meeting_title: str | None
    meeting_create_time: dt.datetime | None


def iso(value: timestamp_pb2.Timestamp | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return wire.timestamp_to_wire(value)


def _ts_field(message: Message, name: str) -> str | None:
    return iso(getattr(message, name)) if message.HasField(name) else None


def _organized_by(ctx: Context) -> dict[str, str]:
    return {"id": ctx.app_id, "name": ctx.app_name}


def _title(ctx: Context, session: session_pb2.Session) -> str | None:
    if ctx.meeting_title is not None:
        return ctx.meeting_title
    return session.meeting_display_name or None


def meeting_block(ctx: Context, session: session_pb2.Session) -> dict[str, Any]:
    block: dict[str, Any] = {
        "id": ctx.meeting_id,
        "sessionId": session.id,
        "title": _title(ctx, session),
        "roomName": ctx.meeting_id,
        "status": "LIVE",
        "createdAt": iso(ctx.meeting_create_time),
        "startedAt": _ts_field(session, "start_time"),
    }
    if session.HasField("end_time"):
        block["endedAt"] = iso(session.end_time)
    block["organizedBy"] = _organized_by(ctx)
    return block


def _participant(peer: Message, *, left: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "peerId": peer.id,
        "userDisplayName": peer.display_name,
        "customParticipantId": peer.custom_participant_id,
        "clientSpecificId": peer.custom_participant_id,  # RealtimeKit's legacy copy
        "joinedAt": _ts_field(peer, "join_time"),
    }
    if left:
        out["leftAt"] = _ts_field(peer, "leave_time")
    return out


def _started(ctx: Context, payload: Any) -> dict[str, Any]:
    return {"event": catalogue.MEETING_STARTED, "meeting": meeting_block(ctx, payload.session)}


def _ended(ctx: Context, payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"event": catalogue.MEETING_ENDED, "meeting": meeting_block(ctx, payload.session)}
    reason = payload.reason or payload.session.end_reason
    name = wire.enum_to_wire(session_pb2.SessionEndReason.DESCRIPTOR, reason) if reason else None
    if name:
        body["reason"] = name
    return body


def _joined(ctx: Context, payload: Any) -> dict[str, Any]:
    return {
        "event": catalogue.PARTICIPANT_JOINED,
        "meeting": meeting_block(ctx, payload.session),
        "participant": _participant(payload.peer, left=False),
    }


def _left(ctx: Context, payload: Any) -> dict[str, Any]:
    return {
        "event": catalogue.PARTICIPANT_LEFT,
        "meeting": meeting_block(ctx, payload.session),
        "participant": _participant(payload.peer, left=True),
    }


def _chat_synced(ctx: Context, payload: Any) -> dict[str, Any]:
    session = payload.session
    expiry = (
        iso(dt.datetime.fromtimestamp(payload.chat_download_url_expiry, dt.UTC))
        if payload.chat_download_url_expiry else None
    )
    return {
        "event": catalogue.CHAT_SYNCED,
        "sessionId": session.id,
        "meetingId": ctx.meeting_id,
        "title": _title(ctx, session),
        "chatDownloadUrl": payload.chat_download_url,
        "chatDownloadUrlExpiry": expiry,
        "createdAt": iso(ctx.meeting_create_time),
        "startedAt": _ts_field(session, "start_time"),
        "endedAt": _ts_field(session, "end_time"),
        "organizedBy": _organized_by(ctx),
    }


def _recording_status(ctx: Context, payload: Any) -> dict[str, Any]:
    """`recording.statusUpdate` from the recording service's `recording_status_changed`."""
    from realtime.recording.v1 import recording_pb2

    rec = payload.recording
    session = payload.session if payload.HasField("session") else session_pb2.Session(id=rec.session_id)
    body: dict[str, Any] = {
        "id": rec.id,
        "recordingId": rec.id,
        "status": wire.enum_to_wire(recording_pb2.RecordingStatus.DESCRIPTOR, rec.status),
        "downloadUrl": rec.download_url or None,
        "audioDownloadUrl": rec.audio_download_url or None,
        "downloadUrlExpiry": _ts_field(rec, "download_url_expire_time"),
        "startedTime": _ts_field(rec, "start_time"),
        "stoppedTime": _ts_field(rec, "stop_time"),
        "fileSize": str(rec.file_size) if rec.HasField("file_size") else None,  # a string in RealtimeKit's example
        "outputFileName": rec.output_file_name or None,
        "meetingId": rec.meeting_id,
        "recordingDuration": rec.recording_duration if rec.HasField("recording_duration") else None,
        "organizationId": ctx.app_id,
        "roomUUID": rec.session_id or None,
    }
    if rec.stop_reason.reason:
        body["stopReason"] = wire.enum_to_wire(recording_pb2.StopReasonType.DESCRIPTOR, rec.stop_reason.reason)
    return {"event": catalogue.RECORDING_STATUS_UPDATE, "recording": body, "meeting": meeting_block(ctx, session)}


# domain event (Event.payload oneof field) → body builder
BUILDERS: dict[str, Callable[[Context, Any], dict[str, Any]]] = {
    "session_started": _started,
    "session_ended": _ended,
    "participant_joined": _joined,
    "participant_left": _left,
    "chat_synced": _chat_synced,
    "recording_status_changed": _recording_status,
}


def meeting_id_of(payload: Any) -> str:
    """The meeting an orchestrator payload is about ("" when it does not say)."""
    session = getattr(payload, "session", None)
    if session is not None and session.meeting_id:
        return session.meeting_id
    peer = getattr(payload, "peer", None)
    if peer is not None:
        return peer.meeting_id
    recording = getattr(payload, "recording", None)
    return recording.meeting_id if recording is not None else ""
