"""What a preset allows (reference §4.4.2, §7, §8). Pure functions over PresetPermissions."""

from __future__ import annotations

from realtime.meeting.v1 import preset_pb2
from realtime.session.v1 import session_pb2
from rtkit.errors import ApiError

P = preset_pb2
ALLOWED, NOT_ALLOWED, CAN_REQUEST = (
    P.PRODUCE_PERMISSION_ALLOWED,
    P.PRODUCE_PERMISSION_NOT_ALLOWED,
    P.PRODUCE_PERMISSION_CAN_REQUEST,
)


def denied(permission: str, message: str, code: str = "0101") -> ApiError:
    """PERMISSION_DENIED_BY_PRESET naming the missing permission."""
    return ApiError("PERMISSION_DENIED_BY_PRESET", message, permission=permission, clientCode=code)


def can_accept_waiting(perms: P.PresetPermissions) -> bool:
    return perms.accept_waiting_requests


def can_moderate_stage(perms: P.PresetPermissions) -> bool:
    return perms.accept_stage_requests or perms.can_accept_production_requests


def is_host(perms: P.PresetPermissions) -> bool:
    return perms.accept_waiting_requests or perms.kick_participant or can_moderate_stage(perms)


def waiting_room_type(perms: P.PresetPermissions) -> int:
    value = perms.waiting_room_type
    return value if value != P.WAITING_ROOM_TYPE_UNSPECIFIED else P.WAITING_ROOM_TYPE_SKIP


def produce(perms: P.PresetPermissions, kind: int) -> int:
    """can_produce of one media kind (unspecified counts as NOT_ALLOWED)."""
    media = perms.media
    value = {
        session_pb2.MEDIA_KIND_AUDIO: media.audio.can_produce,
        session_pb2.MEDIA_KIND_VIDEO: media.video.can_produce,
        session_pb2.MEDIA_KIND_SCREENSHARE: media.screenshare.can_produce,
    }.get(kind, P.PRODUCE_PERMISSION_UNSPECIFIED)
    return value if value != P.PRODUCE_PERMISSION_UNSPECIFIED else NOT_ALLOWED


def stage_access(perms: P.PresetPermissions) -> int:
    """stage_access, or (unspecified) derived from media can_produce: any ALLOWED → ALLOWED,
    else any CAN_REQUEST → CAN_REQUEST, else NOT_ALLOWED."""
    if perms.stage_access != P.STAGE_ACCESS_UNSPECIFIED:
        return perms.stage_access
    values = {produce(perms, k) for k in (session_pb2.MEDIA_KIND_AUDIO, session_pb2.MEDIA_KIND_VIDEO)}
    if ALLOWED in values:
        return P.STAGE_ACCESS_ALLOWED
    if CAN_REQUEST in values:
        return P.STAGE_ACCESS_CAN_REQUEST
    return P.STAGE_ACCESS_NOT_ALLOWED


def is_recorder(perms: P.PresetPermissions) -> bool:
    return perms.is_recorder or perms.recorder_type in (P.RECORDER_TYPE_RECORDER, P.RECORDER_TYPE_LIVESTREAMER)


def mute_permission(kind: int) -> str:
    return {
        session_pb2.MEDIA_KIND_AUDIO: "disable_participant_audio",
        session_pb2.MEDIA_KIND_VIDEO: "disable_participant_video",
        session_pb2.MEDIA_KIND_SCREENSHARE: "disable_participant_screensharing",
    }[kind]


def may_mute(perms: P.PresetPermissions, kind: int) -> bool:
    return bool(getattr(perms, mute_permission(kind)))
