"""The signaling wire: protobuf JSON mapping of realtime.signaling.v1 messages, and the
conversion of protocol enums to RealtimeKit's strings ("joined", "ON_STAGE", "text", …)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from realtime.gateway.v1 import placement_pb2
from realtime.meeting.v1 import preset_pb2
from realtime.session.v1 import chat_pb2, peer_pb2, session_pb2, stage_pb2
from realtime.signaling.v1 import signal_pb2

ClientMessage = signal_pb2.ClientMessage
ServerMessage = signal_pb2.ServerMessage

__all__ = ["chat_pb2", "json_format", "peer_pb2", "preset_pb2", "session_pb2", "signal_pb2", "stage_pb2"]


def encode(message: ClientMessage) -> str:
    return json_format.MessageToJson(message, indent=None)


def decode(text: str) -> ServerMessage:
    # Unknown fields are ignored: a newer server may add messages and fields.
    return json_format.Parse(text, ServerMessage(), ignore_unknown_fields=True)


def _strip(enum: Any, value: int, prefix: str) -> str:
    try:
        return enum.Name(value).removeprefix(prefix)
    except ValueError:
        return ""


def room_state(value: int) -> str:
    """ROOM_STATE_JOINED → "joined"."""
    return _strip(session_pb2.RoomState, value, "ROOM_STATE_").lower()


def room_state_value(name: str) -> int:
    return session_pb2.RoomState.Value("ROOM_STATE_" + name.upper())


def stage_status(value: int) -> str:
    """STAGE_STATUS_ON_STAGE → "ON_STAGE" (OFF_STAGE when unspecified)."""
    return _strip(stage_pb2.StageStatus, value, "STAGE_STATUS_") if value else "OFF_STAGE"


def chat_type(value: int) -> str:
    return _strip(chat_pb2.ChatMessageType, value, "CHAT_MESSAGE_TYPE_").lower() or "text"


def view_type(value: int) -> str:
    return _strip(preset_pb2.ViewType, value, "VIEW_TYPE_") if value else ""


def media_kind(value: int) -> str:
    return _strip(session_pb2.MediaKind, value, "MEDIA_KIND_").lower() or "audio"


def placement_reason(value: int) -> str:
    """PLACEMENT_REASON_CLIENT_HINT_REGION → "CLIENT_HINT_REGION"."""
    return _strip(placement_pb2.PlacementReason, value, "PLACEMENT_REASON_")


def timestamp(message: Message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC)


def to_dict(message: Message) -> dict[str, Any]:
    """A protobuf message as a snake_case dict (enum values as names)."""
    return json_format.MessageToDict(message, preserving_proto_field_name=True)
