"""The recording status machine, row → proto conversion and download-link signing.

    INVOKED ──► RECORDING ◄──► PAUSED
       │            │  │          │
       │            │  ▼          ▼
       │            │  UPLOADING ──► UPLOADED
       └────────────┴──────┴─────► ERRORED (with error_message and stop_reason)

Every transition goes through `ALLOWED` (domain/recordings.py `transition`), is committed with
one `recording_status_changed` event in the outbox, and so produces one `recording.statusUpdate`
webhook, in order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import urllib.parse
from typing import Any

import asyncpg
from google.protobuf import timestamp_pb2
from realtime.meeting.v1 import meeting_pb2
from realtime.recording.v1 import recording_pb2 as R
from realtime.session.v1 import session_pb2

from rtk_recording.store import pg

INVOKED = R.RECORDING_STATUS_INVOKED
RECORDING = R.RECORDING_STATUS_RECORDING
PAUSED = R.RECORDING_STATUS_PAUSED
UPLOADING = R.RECORDING_STATUS_UPLOADING
UPLOADED = R.RECORDING_STATUS_UPLOADED
ERRORED = R.RECORDING_STATUS_ERRORED

# to → statuses it may be reached from
ALLOWED: dict[int, frozenset[int]] = {
    RECORDING: frozenset({INVOKED, PAUSED}),
    PAUSED: frozenset({RECORDING}),
    UPLOADING: frozenset({RECORDING, PAUSED}),
    UPLOADED: frozenset({UPLOADING}),
    ERRORED: frozenset({INVOKED, RECORDING, PAUSED, UPLOADING}),
}
TERMINAL = frozenset({UPLOADED, ERRORED})


def status_name(status: int) -> str:
    return R.RecordingStatus.Name(status).removeprefix("RECORDING_STATUS_")


def ts(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


class DownloadSigner:
    """Signed, expiring links served by the gateway route /v1/recordings/{id}/download.

    sig = hex HMAC-SHA256(key, "<recording id>\\n<file name or empty>\\n<exp>"), where key is
    RTK_RECORDING_SIGNING_KEY or SHA-256("rtk-recording-download:" + RTK_INTERNAL_TOKEN).
    """

    def __init__(self, secret: str, public_url: str, ttl_seconds: int) -> None:
        self.key = hashlib.sha256(f"rtk-recording-download:{secret}".encode()).digest()
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl_seconds

    def signature(self, recording_id: str, file: str, expires: int) -> str:
        message = f"{recording_id}\n{file}\n{expires}".encode()
        return hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def url(self, recording_id: str, file: str, expires: int) -> str:
        query = {"exp": str(expires), "sig": self.signature(recording_id, file, expires)}
        if file:
            query = {"file": file, **query}
        return f"{self.public_url}/v1/recordings/{recording_id}/download?{urllib.parse.urlencode(query)}"

    def verify(self, recording_id: str, file: str, expires: int, signature: str, now: float) -> bool:
        if expires < now:
            return False
        return hmac.compare_digest(self.signature(recording_id, file, expires), signature)


def storage_without_secrets(config: meeting_pb2.StorageConfig) -> meeting_pb2.StorageConfig:
    out = meeting_pb2.StorageConfig()
    out.CopyFrom(config)
    for name in ("access_key", "secret", "password", "private_key"):
        out.ClearField(name)
    return out


def to_proto(row: asyncpg.Record, signer: DownloadSigner | None) -> R.Recording:
    rec = R.Recording(
        id=str(row["id"]), app_id=row["app_id"], meeting_id=row["meeting_id"], session_id=row["session_id"],
        status=row["status"], type=row["type"], output_file_name=row["output_file_name"],
        error_message=row["error_message"], recorder_id=str(row["recorder_id"] or ""),
        recorder_participant_id=row["participant_id"], recorder_peer_id=row["peer_id"],
    )
    for field, column in (("invoke_time", "invoked_at"), ("start_time", "started_at"), ("stop_time", "stopped_at"),
                          ("update_time", "updated_at")):
        value = ts(row[column])
        if value is not None:
            getattr(rec, field).CopyFrom(value)
    if row["duration_seconds"] is not None:
        rec.recording_duration = row["duration_seconds"]
    if row["file_size"] is not None:
        rec.file_size = row["file_size"]
    rec.options.ParseFromString(row["options"])
    rec.start_reason.ParseFromString(row["start_reason"])
    if row["stop_reason"]:
        rec.stop_reason.ParseFromString(row["stop_reason"])
    if row["storage_config"]:
        rec.storage_config.CopyFrom(storage_without_secrets(meeting_pb2.StorageConfig.FromString(row["storage_config"])))
    if row["layers"]:
        from realtime.recording.v1 import recording_service_pb2

        request = recording_service_pb2.StartTrackRecordingRequest.FromString(row["layers"])
        for name, layer in request.layers.items():
            rec.layers[name].CopyFrom(layer)
    expires_at = row["expires_at"]
    downloadable = row["status"] == UPLOADED and expires_at is not None and signer is not None and \
        (not rec.options.HasField("realtimekit_bucket") or rec.options.realtimekit_bucket)
    if downloadable:
        rec.download_url_expire_time.CopyFrom(ts(expires_at))
    exp = int(expires_at.timestamp()) if expires_at is not None else 0
    for index, item in enumerate(pg.files_of(row)):
        file = R.RecordingFile(
            name=item["name"], kind=item.get("kind", 0), peer_id=item.get("peer_id", ""),
            user_id=item.get("user_id", ""), track_kind=item.get("track_kind", ""), codec=item.get("codec", ""),
            content_type=item.get("content_type", ""), size_bytes=item.get("size_bytes", 0),
            duration_seconds=item.get("duration_seconds", 0.0), storage_key=item.get("storage_key", ""),
            display_name=item.get("display_name", ""), start_offset_seconds=item.get("start_offset_seconds", 0.0),
        )
        if downloadable:
            assert signer is not None
            file.download_url = signer.url(rec.id, "" if index == 0 else file.name, exp)
            if index == 0:
                rec.download_url = file.download_url
            elif file.kind == R.RECORDING_FILE_KIND_AUDIO:
                rec.audio_download_url = file.download_url
        rec.files.append(file)
    return rec


def session_of(row: asyncpg.Record) -> session_pb2.Session | None:
    return session_pb2.Session.FromString(row["session"]) if row["session"] else None


def file_entry(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}
