"""Recordings: start (API and record_on_start), read, control, state changes reported by
recorders, and the sweeper that errors the recordings of dead recorders."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from google.protobuf import timestamp_pb2
from realtime.events.v1 import event_pb2
from realtime.meeting.v1 import meeting_pb2
from realtime.recording.v1 import recorder_pb2, recording_service_pb2
from realtime.recording.v1 import recording_pb2 as R
from realtime.session.v1 import session_pb2
from rtkit import outbox
from rtkit.bus import event_subject
from rtkit.errors import ApiError, invalid_field
from rtkit.logging import get_logger

from rtk_recording.domain import models as m
from rtk_recording.domain.ports import Directory, RecorderLink
from rtk_recording.store import pg

log = get_logger("rtk_recording.domain")
_RECORD_ON_START_NS = uuid.UUID("6f1d0b55-3a43-4a9e-9f4f-2a2f4c6b7e01")
_S3_TYPES = (meeting_pb2.STORAGE_TYPE_AWS, meeting_pb2.STORAGE_TYPE_DIGITALOCEAN)
_ACTIONS = {
    recording_service_pb2.RECORDING_ACTION_STOP: recorder_pb2.RECORDER_ACTION_STOP,
    recording_service_pb2.RECORDING_ACTION_PAUSE: recorder_pb2.RECORDER_ACTION_PAUSE,
    recording_service_pb2.RECORDING_ACTION_RESUME: recorder_pb2.RECORDER_ACTION_RESUME,
}
_ACTION_NEEDS = {
    recording_service_pb2.RECORDING_ACTION_STOP: (m.INVOKED, m.RECORDING, m.PAUSED),
    recording_service_pb2.RECORDING_ACTION_PAUSE: (m.RECORDING,),
    recording_service_pb2.RECORDING_ACTION_RESUME: (m.PAUSED,),
}


@dataclass(frozen=True)
class Config:
    lease_seconds: float = 10.0
    default_max_seconds: int = 86400
    download_ttl_seconds: int = 7 * 24 * 3600


class Conflict(Exception):
    """A transition that the current status does not allow."""

    def __init__(self, status: int) -> None:
        super().__init__(m.status_name(status))
        self.status = status


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _resolve(request: Any, meeting: meeting_pb2.Meeting, default_max: int) -> tuple[R.RecordingOptions,
                                                                                      meeting_pb2.StorageConfig | None]:
    """Request > meeting recording_config > defaults (reference §4.8)."""
    rc = meeting.recording_config
    opts = R.RecordingOptions()
    if request.HasField("max_seconds"):
        opts.max_seconds = request.max_seconds
    elif rc.HasField("max_seconds"):
        opts.max_seconds = rc.max_seconds
    else:
        opts.max_seconds = default_max
    if not 60 <= opts.max_seconds <= 86400:
        raise invalid_field("max_seconds", "must be between 60 and 86400")
    prefix = getattr(request, "file_name_prefix", "") or rc.file_name_prefix
    if len(prefix) > 256:
        raise invalid_field("file_name_prefix", "must be at most 256 characters")
    if any(c in prefix for c in "/\\\0"):
        raise invalid_field("file_name_prefix", "must not contain '/', '\\' or NUL")
    opts.file_name_prefix = prefix
    video = request.video_config if request.DESCRIPTOR.fields_by_name.get("video_config") and \
        request.HasField("video_config") else rc.video_config
    opts.video_config.CopyFrom(video)
    if opts.video_config.codec == meeting_pb2.VIDEO_CODEC_UNSPECIFIED:
        opts.video_config.codec = meeting_pb2.VIDEO_CODEC_H264
    for name, default in (("width", 1280), ("height", 720)):
        value = getattr(opts.video_config, name)
        if value == 0:
            setattr(opts.video_config, name, default)
        elif not 64 <= value <= 1920:
            raise invalid_field(f"video_config.{name}", "must be between 64 and 1920")
    audio = request.audio_config if request.DESCRIPTOR.fields_by_name.get("audio_config") and \
        request.HasField("audio_config") else rc.audio_config
    opts.audio_config.CopyFrom(audio)
    if opts.audio_config.channel == meeting_pb2.AUDIO_CHANNEL_UNSPECIFIED:
        opts.audio_config.channel = meeting_pb2.AUDIO_CHANNEL_STEREO
    if opts.audio_config.codec == meeting_pb2.AUDIO_CODEC_UNSPECIFIED:
        opts.audio_config.codec = meeting_pb2.AUDIO_CODEC_AAC
    if not opts.audio_config.HasField("export_file"):
        opts.audio_config.export_file = True
    fields = request.DESCRIPTOR.fields_by_name
    if "realtimekit_bucket_config" in fields and request.HasField("realtimekit_bucket_config"):
        opts.realtimekit_bucket = request.realtimekit_bucket_config.enabled
    elif rc.HasField("realtimekit_bucket_config"):
        opts.realtimekit_bucket = rc.realtimekit_bucket_config.enabled
    opts.allow_multiple_recordings = request.allow_multiple_recordings
    storage = None
    if "storage_config" in fields and request.HasField("storage_config"):
        storage = request.storage_config
    elif rc.HasField("storage_config"):
        storage = rc.storage_config
    if storage is not None:
        if storage.type not in _S3_TYPES:
            raise invalid_field("storage_config.type", "only S3-compatible storage (aws, digitalocean) is supported")
        if not storage.bucket or not storage.access_key or not storage.secret:
            raise invalid_field("storage_config", "bucket, access_key and secret are required")
    if opts.HasField("realtimekit_bucket") and not opts.realtimekit_bucket and storage is None:
        raise invalid_field("realtimekit_bucket_config.enabled", "false needs a storage_config to store the files")
    return opts, storage


class Recordings:
    def __init__(self, pool: asyncpg.Pool, directory: Directory, link: RecorderLink, signer: m.DownloadSigner,
                 config: Config, *, on_commit: Callable[[], None] = lambda: None) -> None:
        self._pool = pool
        self._directory = directory
        self._link = link
        self.signer = signer
        self.config = config
        self._on_commit = on_commit

    def proto(self, row: asyncpg.Record) -> R.Recording:
        return m.to_proto(row, self.signer)

    # -- events ---------------------------------------------------------------------------
    async def _emit(self, conn: asyncpg.Connection, row: asyncpg.Record, previous: int) -> None:
        event = event_pb2.Event(event_id=str(uuid.uuid4()), app_id=row["app_id"])
        event.occur_time.GetCurrentTime()
        payload = event.recording_status_changed
        payload.recording.CopyFrom(self.proto(row))
        payload.previous_status = previous
        session = m.session_of(row)
        if session is not None:
            payload.session.CopyFrom(session)
        subject = event_subject(row["app_id"], "recordings", str(row["id"]), "recording_status_changed")
        await outbox.add(conn, subject, event, event_id=event.event_id)

    # -- start ----------------------------------------------------------------------------
    async def start(self, request: Any, *, type_: int, start_reason: R.StartReason,
                    session: session_pb2.Session | None = None,
                    recording_id: uuid.UUID | None = None) -> R.Recording:
        if not request.meeting_id:
            raise invalid_field("meeting_id", "is required")
        if type_ == R.RECORDING_TYPE_COMPOSITE:
            if request.url:
                raise invalid_field("url", "recording a custom page is not supported")
            if request.rtmp_out_config.rtmp_url:
                raise invalid_field("rtmp_out_config", "RTMP output is not supported")
            if request.interactive_config_type:
                raise invalid_field("interactive_config", "interactive (ID3) output is not supported")
        else:
            if len(request.user_ids) > 100:
                raise invalid_field("user_ids", "at most 100 participant ids")
            for name, layer in request.layers.items():
                if layer.media_kind not in ("", "audio", "video"):
                    raise invalid_field(f"layers.{name}.media_kind", "must be audio or video")
                if len(layer.file_name_prefix) > 256 or any(c in layer.file_name_prefix for c in "/\\\0"):
                    raise invalid_field(f"layers.{name}.file_name_prefix", "at most 256 characters, no '/' or '\\'")
        app_id, meeting_id = request.app_id, request.meeting_id
        meeting = await self._directory.meeting(app_id, meeting_id)
        opts, storage = _resolve(request, meeting, self.config.default_max_seconds)
        if session is None:
            session = await self._directory.active_session(app_id, meeting_id)
        if session is None:
            raise ApiError("NO_ACTIVE_SESSION",
                           f"Meeting {meeting_id} has no live session to record; recordings start while "
                           "participants are in the meeting.", meetingId=meeting_id)
        async with self._pool.acquire() as conn, conn.transaction():
            await pg.lock_meeting(conn, app_id, meeting_id)
            if recording_id is not None:
                existing = await pg.get(conn, str(recording_id), app_id)
                if existing is not None:
                    return self.proto(existing)
            running = await pg.active_for_meeting(conn, app_id, meeting_id)
            if running and not opts.allow_multiple_recordings:
                raise ApiError("RECORDING_ALREADY_RUNNING",
                               f"Meeting {meeting_id} is already being recorded (recording {running[0]['id']}); "
                               "stop it first or set allow_multiple_recordings.",
                               meetingId=meeting_id, recordingId=running[0]["id"])
            recorder_id = await pg.pick_recorder(conn, self.config.lease_seconds)
            if recorder_id is None:
                raise ApiError("RECORDER_CAPACITY_EXHAUSTED",
                               "Every recorder is busy (RTK_RECORDING_MAX_CONCURRENT reached); retry later.",
                               meetingId=meeting_id)
            values: dict[str, Any] = {
                "id": recording_id or uuid.uuid4(), "app_id": app_id, "meeting_id": meeting_id,
                "session_id": session.id, "meeting_title": meeting.title if meeting.HasField("title") else "",
                "type": type_, "status": m.INVOKED, "recorder_id": recorder_id,
                "options": opts.SerializeToString(), "session": session.SerializeToString(),
                "start_reason": start_reason.SerializeToString(),
                "storage_config": storage.SerializeToString() if storage is not None else None,
                "layers": request.SerializeToString() if type_ == R.RECORDING_TYPE_TRACK else None,
            }
            row = await pg.insert(conn, values)
            if row is None:  # a concurrent record_on_start inserted it
                row = await pg.get(conn, str(values["id"]), app_id)
                assert row is not None
                return self.proto(row)
            await self._emit(conn, row, R.RECORDING_STATUS_UNSPECIFIED)
        self._on_commit()
        log.info("recording_invoked", app_id=app_id, meeting_id=meeting_id, session_id=session.id,
                 recording_id=str(row["id"]), recorder_id=str(recorder_id), type=type_)
        await self._dispatch_start(row)
        return self.proto(row)

    async def _dispatch_start(self, row: asyncpg.Record) -> None:
        command = recorder_pb2.RecorderCommand(recording_id=str(row["id"]), action=recorder_pb2.RECORDER_ACTION_START)
        try:
            result = await self._link.send(str(row["recorder_id"]), command)
        except Exception as exc:  # noqa: BLE001 - the recorder is unreachable: fail the recording
            result = recorder_pb2.RecorderCommandResult(ok=False, reason="DEPENDENCY_UNAVAILABLE", message=str(exc))
        if not result.ok:
            log.warning("recorder_start_failed", recording_id=str(row["id"]), reason=result.reason,
                        message=result.message)
            await self.fail(str(row["id"]), f"The recorder could not take the job: {result.message or result.reason}")

    async def start_api(self, request: Any, type_: int, caller: R.Caller, internal: bool) -> R.Recording:
        reason = R.START_REASON_TYPE_API_CALL
        if internal and getattr(request, "reason", 0) == R.START_REASON_TYPE_RECORD_ON_START:
            reason = R.START_REASON_TYPE_RECORD_ON_START
        start_reason = R.StartReason(reason=reason)
        if reason == R.START_REASON_TYPE_API_CALL:
            start_reason.caller.CopyFrom(caller)
        return await self.start(request, type_=type_, start_reason=start_reason)

    async def on_session_started(self, app_id: str, session: session_pb2.Session) -> R.Recording | None:
        """record_on_start: one composite recording per session (idempotent on redelivery)."""
        try:
            meeting = await self._directory.meeting(app_id, session.meeting_id)
        except ApiError:
            return None
        if not meeting.record_on_start:
            return None
        request = recording_service_pb2.StartRecordingRequest(app_id=app_id, meeting_id=session.meeting_id,
                                                              allow_multiple_recordings=True)
        rid = uuid.uuid5(_RECORD_ON_START_NS, f"{app_id}:{session.id}")
        try:
            return await self.start(request, type_=R.RECORDING_TYPE_COMPOSITE, session=session, recording_id=rid,
                                    start_reason=R.StartReason(reason=R.START_REASON_TYPE_RECORD_ON_START))
        except ApiError as exc:
            log.warning("record_on_start_failed", app_id=app_id, meeting_id=session.meeting_id,
                        session_id=session.id, reason=exc.reason, error=exc.message)
            return None

    async def on_session_ended(self, app_id: str, session_id: str) -> int:
        async with self._pool.acquire() as conn:
            rows = await pg.running_of_session(conn, app_id, session_id)
        stopped = 0
        for row in rows:
            try:
                await self._control_row(row, recording_service_pb2.RECORDING_ACTION_STOP,
                                        R.StopReason(reason=R.STOP_REASON_TYPE_ALL_PEERS_LEFT))
                stopped += 1
            except (ApiError, Conflict) as exc:
                log.info("session_end_stop_skipped", recording_id=str(row["id"]), error=str(exc))
        return stopped

    # -- reads ----------------------------------------------------------------------------
    async def get(self, app_id: str, recording_id: str) -> R.Recording:
        async with self._pool.acquire() as conn:
            row = await pg.get(conn, recording_id, app_id)
        if row is None:
            raise ApiError("RECORDING_NOT_FOUND", f"No recording with id {recording_id}.", recordingId=recording_id)
        return self.proto(row)

    async def row(self, recording_id: str) -> asyncpg.Record | None:
        async with self._pool.acquire() as conn:
            return await pg.get(conn, recording_id)

    async def active(self, app_id: str, meeting_id: str) -> R.Recording:
        async with self._pool.acquire() as conn:
            rows = await pg.active_for_meeting(conn, app_id, meeting_id)
        if not rows:
            raise ApiError("NO_ACTIVE_RECORDING", f"Meeting {meeting_id} has no active recording.",
                           meetingId=meeting_id)
        return self.proto(rows[0])

    async def list(self, request: recording_service_pb2.ListRecordingsRequest) -> tuple[list[R.Recording], int, int]:
        size = request.page_size or 20
        if not 1 <= size <= 100:
            raise invalid_field("page_size", "must be between 1 and 100")
        skip = request.skip
        if request.page_token:
            try:
                skip = int(request.page_token)
            except ValueError:
                raise invalid_field("page_token", "is not a token from next_page_token") from None
        start = request.start_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("start_time") else None
        end = request.end_time.ToDatetime(tzinfo=dt.UTC) if request.HasField("end_time") else None
        async with self._pool.acquire() as conn:
            rows, total = await pg.list_page(
                conn, request.app_id, limit=size, skip=max(0, skip), meeting_id=request.meeting_id,
                statuses=list(request.statuses), search=request.search.strip(), start=start, end=end,
                ascending=request.ascending, expired=request.expired if request.HasField("expired") else None,
                type_=request.type,
            )
        return [self.proto(r) for r in rows], total, skip + len(rows)

    # -- control --------------------------------------------------------------------------
    async def control(self, app_id: str, recording_id: str, action: int, caller: R.Caller) -> R.Recording:
        if action not in _ACTIONS:
            raise invalid_field("action", "must be stop, pause or resume")
        async with self._pool.acquire() as conn:
            row = await pg.get(conn, recording_id, app_id)
        if row is None:
            raise ApiError("RECORDING_NOT_FOUND", f"No recording with id {recording_id}.", recordingId=recording_id)
        reason = R.StopReason(reason=R.STOP_REASON_TYPE_API_CALL, caller=caller)
        try:
            await self._control_row(row, action, reason)
        except Conflict as exc:
            verb = recording_service_pb2.RecordingAction.Name(action).removeprefix("RECORDING_ACTION_").lower()
            raise ApiError("INVALID_FIELD", f"Cannot {verb} a recording whose status is {m.status_name(exc.status)}.",
                           field_violations=[("action", f"not allowed in status {m.status_name(exc.status)}")],
                           field="action", status=m.status_name(exc.status)) from None
        return await self.get(app_id, recording_id)

    async def _control_row(self, row: asyncpg.Record, action: int, stop_reason: R.StopReason) -> None:
        status = row["status"]
        if status not in _ACTION_NEEDS[action]:
            if action == recording_service_pb2.RECORDING_ACTION_PAUSE and status == m.PAUSED:
                return  # idempotent
            if action == recording_service_pb2.RECORDING_ACTION_RESUME and status == m.RECORDING:
                return
            if action == recording_service_pb2.RECORDING_ACTION_STOP and status == m.UPLOADING:
                return
            raise Conflict(status)
        command = recorder_pb2.RecorderCommand(recording_id=str(row["id"]), action=_ACTIONS[action],
                                               stop_reason=stop_reason)
        try:
            result = await self._link.send(str(row["recorder_id"]), command)
        except Exception as exc:  # noqa: BLE001
            if action == recording_service_pb2.RECORDING_ACTION_STOP and await self._recorder_dead(row):
                await self.fail(str(row["id"]), "The recorder was lost before the recording was stopped.")
                return
            raise ApiError("DEPENDENCY_UNAVAILABLE", f"The recorder of this recording does not answer: {exc}",
                           recordingId=str(row["id"])) from None
        if not result.ok:
            if result.reason == "CONFLICT":
                fresh = await self.row(str(row["id"]))
                raise Conflict(fresh["status"] if fresh else status)
            if result.reason == "RECORDING_NOT_FOUND" and action == recording_service_pb2.RECORDING_ACTION_STOP:
                await self.fail(str(row["id"]), "The recorder no longer runs this recording.")
                return
            raise ApiError(result.reason or "INTERNAL", result.message or "The recorder refused the action.")

    async def _recorder_dead(self, row: asyncpg.Record) -> bool:
        async with self._pool.acquire() as conn:
            alive = await conn.fetchval(
                "SELECT count(*) FROM recorders WHERE id = $1 AND heartbeat_at > now() - make_interval(secs => $2)",
                row["recorder_id"], self.config.lease_seconds)
        return not alive

    # -- state changes (called by the recorder that owns the recording) -------------------
    async def transition(self, recording_id: str, to: int, changes: dict[str, Any] | None = None,
                         *, allowed: Sequence[int] | None = None) -> asyncpg.Record:
        """Move to `to` (committing one status event); raises Conflict when not allowed."""
        allowed_from = frozenset(allowed) if allowed is not None else m.ALLOWED[to]
        async with self._pool.acquire() as conn, conn.transaction():
            row = await pg.lock(conn, recording_id)
            if row is None:
                raise ApiError("RECORDING_NOT_FOUND", f"No recording with id {recording_id}.")
            if row["status"] not in allowed_from:
                raise Conflict(row["status"])
            updated = await pg.update(conn, row["id"], {"status": to, **(changes or {})})
            await self._emit(conn, updated, row["status"])
        self._on_commit()
        log.info("recording_status", recording_id=recording_id, app_id=updated["app_id"],
                 meeting_id=updated["meeting_id"], status=m.status_name(to), previous=m.status_name(row["status"]))
        return updated

    async def update_fields(self, recording_id: str, changes: dict[str, Any]) -> None:
        """Non-status bookkeeping (participant and peer id of the recorder bot)."""
        async with self._pool.acquire() as conn:
            await pg.update(conn, recording_id, changes)

    async def fail(self, recording_id: str, message: str,
                   stop_reason: int = R.STOP_REASON_TYPE_INTERNAL_ERROR) -> asyncpg.Record | None:
        try:
            return await self.transition(recording_id, m.ERRORED, {
                "error_message": message[:2000], "stopped_at": _now(),
                "stop_reason": R.StopReason(reason=stop_reason).SerializeToString(),
            })
        except Conflict:
            return None

    def expiry(self) -> dt.datetime:
        return _now() + dt.timedelta(seconds=self.config.download_ttl_seconds)

    # -- sweeping -------------------------------------------------------------------------
    async def sweep(self) -> int:
        """Error the recordings of recorders whose heartbeat stopped (crash, kill -9, network)."""
        swept = 0
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await pg.orphaned(conn, self.config.lease_seconds)
            for row in rows:
                updated = await pg.update(conn, row["id"], {
                    "status": m.ERRORED, "stopped_at": _now(),
                    "error_message": "The recorder stopped reporting (crashed or lost); the recording is incomplete.",
                    "stop_reason": R.StopReason(reason=R.STOP_REASON_TYPE_INTERNAL_ERROR).SerializeToString(),
                })
                await self._emit(conn, updated, row["status"])
                swept += 1
            await pg.forget_dead_recorders(conn, self.config.lease_seconds)
        if swept:
            self._on_commit()
            log.warning("orphaned_recordings_errored", count=swept)
        return swept

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried next interval
                log.warning("sweep_failed", error=str(exc))
            await asyncio.sleep(interval)


def caller_of(internal: bool) -> R.Caller:
    return R.Caller(type=R.CALLER_TYPE_ORGANIZATION) if not internal else R.Caller()


def timestamp(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out
