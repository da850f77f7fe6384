"""Pure builders of signaling and resource messages from domain records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from google.protobuf import timestamp_pb2
from realtime.meeting.v1 import preset_pb2
from realtime.session.v1 import chat_pb2, peer_pb2, poll_pb2, session_pb2, stage_pb2
from realtime.signaling.v1 import signal_pb2

from rtk_orchestrator.domain import permissions as perms_mod
from rtk_orchestrator.domain.models import (
    ACCEPTED,
    DISCONNECTED,
    JOINED,
    LEFT,
    ON_STAGE,
    REQUESTED,
    WAITLISTED,
    PeerRec,
    SessionRec,
)

S = session_pb2
_ROOM_STATES = {
    "init": S.ROOM_STATE_INIT, "joined": S.ROOM_STATE_JOINED, "waitlisted": S.ROOM_STATE_WAITLISTED,
    "rejected": S.ROOM_STATE_REJECTED, "kicked": S.ROOM_STATE_KICKED, "left": S.ROOM_STATE_LEFT,
    "ended": S.ROOM_STATE_ENDED, "disconnected": S.ROOM_STATE_DISCONNECTED,
}
_PEER_STATES = {WAITLISTED: peer_pb2.PEER_STATE_WAITLISTED, JOINED: peer_pb2.PEER_STATE_JOINED,
                DISCONNECTED: peer_pb2.PEER_STATE_DISCONNECTED, LEFT: peer_pb2.PEER_STATE_LEFT}
_PEER_EVENTS = {"PEER_CREATED": peer_pb2.PEER_EVENT_NAME_PEER_CREATED,
                "PEER_JOINING": peer_pb2.PEER_EVENT_NAME_PEER_JOINING,
                "PEER_LEAVING": peer_pb2.PEER_EVENT_NAME_PEER_LEAVING}


def ts(value: dt.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def room_state(name: str | None) -> int:
    return _ROOM_STATES.get(name or "", S.ROOM_STATE_UNSPECIFIED)


def stage_status(name: str) -> int:
    return stage_pb2.StageStatus.Value(f"STAGE_STATUS_{name}")


def server(request_id: str = "", **payload: Any) -> signal_pb2.ServerMessage:
    msg = signal_pb2.ServerMessage(request_id=request_id, time=timestamp_pb2.Timestamp())
    msg.time.GetCurrentTime()
    for key, value in payload.items():
        field = getattr(msg, key)
        field.CopyFrom(value)
        field.SetInParent()
    return msg


def participant_info(peer: PeerRec, *, own: bool = False) -> peer_pb2.ParticipantInfo:
    info = peer_pb2.ParticipantInfo(
        id=peer.id,
        user_id=peer.participant_id,
        name=peer.display_name,
        picture=peer.picture,
        custom_participant_id=peer.custom_participant_id,
        preset_name=peer.preset_name,
        preset_id=peer.preset_id,
        stage_status=stage_status(peer.stage_status),
        audio_enabled=peer.audio_enabled,
        video_enabled=peer.video_enabled,
        screen_share_enabled=peer.screen_share_enabled,
        is_pinned=peer.is_pinned,
        is_host=perms_mod.is_host(peer.permissions),
        view_type=peer.view_type,
    )
    if own:
        info.flags.CopyFrom(peer_pb2.ParticipantFlags(recorder=peer.recorder, hidden_participant=peer.hidden))
    if peer.joined_at is not None:
        info.join_time.CopyFrom(ts(peer.joined_at))
    return info


def waiting_request(peer: PeerRec) -> signal_pb2.WaitingRoomRequest:
    msg = signal_pb2.WaitingRoomRequest(
        peer_id=peer.id, user_id=peer.participant_id, display_name=peer.display_name, picture=peer.picture,
        custom_participant_id=peer.custom_participant_id, preset_name=peer.preset_name,
    )
    if peer.waitlisted_at is not None:
        msg.request_time.CopyFrom(ts(peer.waitlisted_at))
    return msg


def waiting_requests(peers: Iterable[PeerRec]) -> list[signal_pb2.WaitingRoomRequest]:
    waiting = sorted((p for p in peers if p.state == WAITLISTED), key=lambda p: (p.waitlisted_at or p.created_at, p.id))
    return [waiting_request(p) for p in waiting]


def stage_requests(peers: Iterable[PeerRec]) -> list[stage_pb2.StageRequest]:
    pending = sorted((p for p in peers if p.present and p.stage_status == REQUESTED),
                     key=lambda p: (p.stage_changed_at or p.created_at, p.id))
    return [stage_pb2.StageRequest(peer_id=p.id, user_id=p.participant_id, display_name=p.display_name)
            for p in pending]


def stage_state(peers: Iterable[PeerRec], viewer: PeerRec) -> stage_pb2.StageState:
    state = stage_pb2.StageState()
    for p in peers:
        if not p.present or (not p.listed and p.id != viewer.id):
            continue
        if not p.permissions.stage_enabled:
            continue
        if p.stage_status == ON_STAGE:
            state.on_stage_peer_ids.append(p.id)
        elif p.stage_status == ACCEPTED:
            state.accepted_peer_ids.append(p.id)
        elif p.stage_status == REQUESTED:
            state.requested_peer_ids.append(p.id)
    return state


def session(rec: SessionRec) -> session_pb2.Session:
    msg = session_pb2.Session(
        id=rec.id,
        app_id=rec.app_id,
        meeting_id=rec.meeting_id,
        meeting_display_name=rec.meeting_title,
        type=S.SESSION_TYPE_MEETING,
        status=S.SESSION_STATUS_LIVE if rec.status == "LIVE" else S.SESSION_STATUS_ENDED,
        live_participants=rec.live_participants,
        max_concurrent_participants=rec.max_concurrent_participants,
        minutes_consumed=round(rec.minutes_consumed, 4),
        participants_count=rec.participants_count,
    )
    msg.start_time.CopyFrom(ts(rec.started_at))
    msg.create_time.CopyFrom(ts(rec.created_at))
    msg.update_time.CopyFrom(ts(rec.updated_at))
    if rec.ended_at is not None:
        msg.end_time.CopyFrom(ts(rec.ended_at))
    if rec.end_reason:
        msg.end_reason = S.SessionEndReason.Value(f"SESSION_END_REASON_{rec.end_reason}")
    return msg


def peer_record(peer: PeerRec, now: dt.datetime, events: Iterable[Any] = ()) -> peer_pb2.Peer:
    msg = peer_pb2.Peer(
        id=peer.id, session_id=peer.session_id, app_id=peer.app_id, meeting_id=peer.meeting_id,
        participant_id=peer.participant_id, custom_participant_id=peer.custom_participant_id,
        display_name=peer.display_name, picture=peer.picture, preset_name=peer.preset_name,
        preset_id=peer.preset_id, state=_PEER_STATES[peer.state], leave_state=room_state(peer.leave_state),
        duration_minutes=round(peer.minutes(now), 4), view_type=peer.view_type, hidden=peer.hidden,
        recorder=peer.recorder,
    )
    for field, value in (("join_time", peer.joined_at), ("leave_time", peer.left_at),
                         ("create_time", peer.created_at), ("update_time", peer.updated_at)):
        if value is not None:
            getattr(msg, field).CopyFrom(ts(value))
    if peer.client:
        msg.client.ParseFromString(peer.client)
    for row in events:
        msg.peer_events.append(peer_event(row))
    return msg


def peer_event(row: Any) -> peer_pb2.PeerEvent:
    event = peer_pb2.PeerEvent(
        id=str(row["id"]), event_name=_PEER_EVENTS.get(row["event_name"], 0),
        minutes_consumed=round(row["minutes_consumed"], 4), participant_id=row["participant_id"],
        peer_id=str(row["peer_id"]), session_id=str(row["session_id"]),
        socket_session_id=row["socket_session_id"], preset_view_type=row["view_type"], detail=row["detail"],
    )
    event.create_time.CopyFrom(ts(row["created_at"]))
    return event


def chat_message(row: Any) -> chat_pb2.ChatMessage:
    created: dt.datetime = row["created_at"]
    msg = chat_pb2.ChatMessage(
        id=str(row["id"]), type=row["type"], user_id=row["user_id"], peer_id=row["peer_id"],
        display_name=row["display_name"], message=row["message"], time_ms=int(created.timestamp() * 1000),
        target_user_ids=list(row["target_user_ids"]), session_id=str(row["session_id"]), sequence=row["seq"],
    )
    msg.time.CopyFrom(ts(created))
    return msg


def poll(row: Any, votes: list[Any], *, viewer_user_id: str | None = None, full: bool = False) -> poll_pb2.Poll:
    """A poll as `viewer_user_id` may see it. Anonymous polls never name voters; hide_votes polls
    show no counts to a viewer who has not voted yet (creator and `full` views see everything)."""
    options = list(row["options"])
    voted = [v["user_id"] for v in votes]
    show_results = full or not row["hide_votes"] or viewer_user_id in voted or \
        viewer_user_id == row["created_by_user_id"]
    msg = poll_pb2.Poll(
        id=str(row["id"]), question=row["question"], anonymous=row["anonymous"], hide_votes=row["hide_votes"],
        created_by=row["created_by"], created_by_user_id=row["created_by_user_id"],
        session_id=str(row["session_id"]),
        voted=voted,
    )
    msg.create_time.CopyFrom(ts(row["created_at"]))
    for index, text in enumerate(options):
        option = msg.options.add(text=text)
        if not show_results:
            continue
        chosen = [v for v in votes if v["option_index"] == index]
        option.count = len(chosen)
        if not row["anonymous"] or full:
            for v in chosen:
                option.votes.add(id=v["user_id"], name=v["name"])
    return msg


def preset_permissions(peer: PeerRec) -> preset_pb2.PresetPermissions:
    return peer.permissions
