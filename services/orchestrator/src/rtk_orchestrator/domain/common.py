"""Constants and small helpers shared by the orchestrator's domain modules."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from realtime.session.v1 import chat_pb2
from realtime.session.v1 import session_pb2 as S
from realtime.signaling.v1 import signal_pb2 as SIG
from rtkit.errors import ApiError, invalid_field

from rtk_orchestrator.domain import messages as m

# RealtimeKit four-digit client codes for signaling errors (reference §10.13).
_CLIENT_CODES = {"RATE_LIMITED": "0013", "PERMISSION_DENIED_BY_PRESET": "0101", "TOKEN_INVALID": "0004"}
_KIND_FIELD = {S.MEDIA_KIND_AUDIO: "audio", S.MEDIA_KIND_VIDEO: "video", S.MEDIA_KIND_SCREENSHARE: "screenshare"}
_ENABLED = {"audio": "audio_enabled", "video": "video_enabled", "screenshare": "screen_share_enabled"}
_LOCKED = {"audio": "audio_locked", "video": "video_locked", "screenshare": "screenshare_locked"}
CHAT_EVENT_URL_TTL = 7 * 24 * 3600


def _uuid(value: str, field: str) -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise invalid_field(field, "must be a UUID") from None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def error_message(request_id: str, error: ApiError) -> SIG.ServerMessage:
    code = error.metadata.get("clientCode") or _CLIENT_CODES.get(error.reason, error.reason)
    metadata = {k: v for k, v in error.metadata.items() if k != "clientCode"}
    return m.server(request_id, error=SIG.Error(code=code, reason=error.reason, message=error.message,
                                                metadata=metadata))


def chat_csv(rows: list[Any]) -> bytes:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["time", "id", "user_id", "peer_id", "display_name", "type", "message", "target_user_ids"])
    for r in rows:
        kind = chat_pb2.ChatMessageType.Name(r["type"]).removeprefix("CHAT_MESSAGE_TYPE_").lower()
        writer.writerow([r["created_at"].isoformat(), str(r["id"]), r["user_id"], r["peer_id"], r["display_name"],
                         kind, r["message"], ";".join(r["target_user_ids"])])
    return buffer.getvalue().encode()
