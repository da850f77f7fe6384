"""The session orchestrator: session lifecycle, peers, waiting room, stage, moderation, chat,
polls and broadcasts. Transport-agnostic: the gRPC servicer calls it, it talks to Postgres (state,
outbox) and to its ports (meeting directory, token revoker, signal sink).

Layout: this module holds the core (units of work, join/leave/heartbeat/disconnect, admission,
removal, session end, the reaper and the client-message dispatcher); the handlers live in
mixins — `stage` (stage and own media, producer authorization), `moderation` (waiting-room
decisions, kick, mute, pin, REST live moderation), `messaging` (chat, polls, broadcasts) and
`reads` (REST reads, chat export).

Concurrency: every change to a session runs in one transaction holding the session row lock
(`SELECT … FOR UPDATE`); session creation is serialised per meeting by an advisory lock and the
partial unique index `sessions_one_live_per_meeting`. Replicas therefore never race; in-process
state is limited to caches and rate-limit buckets.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from realtime.events.v1 import session_events_pb2 as ev
from realtime.meeting.v1 import meeting_pb2, preset_pb2
from realtime.session.v1 import peer_pb2, session_pb2
from realtime.signaling.v1 import signal_pb2
from rtkit.errors import ApiError, invalid_field
from rtkit.logging import get_logger

from rtk_orchestrator.domain import messages as m
from rtk_orchestrator.domain import permissions as perm
from rtk_orchestrator.domain.common import (
    CHAT_EVENT_URL_TTL,
    _hash,
    _is_uuid,
    _uuid,
    error_message,
)
from rtk_orchestrator.domain.messaging import MessagingMixin
from rtk_orchestrator.domain.models import (
    DISCONNECTED,
    ENDED,
    JOINED,
    LEFT,
    LIVE,
    OFF_STAGE,
    ON_STAGE,
    REQUESTED,
    WAITLISTED,
    PeerRec,
)
from rtk_orchestrator.domain.moderation import ModerationMixin
from rtk_orchestrator.domain.ports import Directory, SignalSink, TokenRevoker
from rtk_orchestrator.domain.ratelimit import RateLimiter
from rtk_orchestrator.domain.reads import ReadsMixin
from rtk_orchestrator.domain.stage import StageMixin
from rtk_orchestrator.domain.unit import UnitOfWork
from rtk_orchestrator.store import pg

log = get_logger("rtk_orchestrator")
S = session_pb2
SIG = signal_pb2
P = preset_pb2


@dataclass(frozen=True)
class Config:
    heartbeat_interval: float = 5.0
    heartbeat_misses: int = 3
    resume_window: float = 30.0
    default_keep_alive: int = 60
    broadcast_per_second: int = 5
    chat_per_minute: int = 180
    chat_history_on_join: int = 100
    public_url: str = "http://127.0.0.1:8080"
    export_key: bytes = b""
    export_ttl: int = 3600

    @property
    def heartbeat_timeout(self) -> float:
        return self.heartbeat_interval * self.heartbeat_misses


class Orchestrator(StageMixin, ModerationMixin, MessagingMixin, ReadsMixin):
    def __init__(self, pool: asyncpg.Pool, directory: Directory, revoker: TokenRevoker, sink: SignalSink,
                 config: Config, *, on_commit: Callable[[], None] = lambda: None) -> None:
        self._pool = pool
        self._directory = directory
        self._revoker = revoker
        self._sink = sink
        self.config = config
        self._on_commit = on_commit
        self._broadcast_limit = RateLimiter(config.broadcast_per_second, 1.0)
        self._chat_limit = RateLimiter(config.chat_per_minute, 60.0)

    # -- units of work --------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _unit(self, session_id: str, *, lock: bool = True) -> AsyncIterator[UnitOfWork]:
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                session = await pg.lock_session(conn, session_id) if lock else \
                    await pg.get_session_by_id(conn, session_id)
                if session is None:
                    raise ApiError("SESSION_NOT_FOUND", f"No session with id {session_id}.", sessionId=session_id)
                unit = UnitOfWork(conn, session, await pg.present_peers(conn, session_id), await pg.now(conn))
                yield unit
        await self._after_commit(unit)

    @contextlib.asynccontextmanager
    async def _peer_unit(self, peer_id: str, *, lock: bool = True) -> AsyncIterator[tuple[UnitOfWork, PeerRec]]:
        async with self._pool.acquire() as conn:
            peer = await pg.get_peer(conn, peer_id) if _is_uuid(peer_id) else None
        if peer is None or peer.state == LEFT:
            raise ApiError("PEER_NOT_FOUND", f"No peer with id {peer_id} in a live session.", peerId=peer_id)
        async with self._unit(peer.session_id, lock=lock) as unit:
            current = unit.peers.get(peer.id)
            if current is None or unit.session.status != LIVE:
                raise ApiError("PEER_NOT_FOUND", f"No peer with id {peer_id} in a live session.", peerId=peer_id)
            yield unit, current

    async def _after_commit(self, unit: UnitOfWork) -> None:
        if unit.events:
            self._on_commit()
        for peer_id, message in unit.signals:
            try:
                await self._sink.send(peer_id, message)
            except Exception as exc:  # noqa: BLE001 - a lost push is recovered by the client's sync
                log.warning("signal_send_failed", peer_id=peer_id, error=str(exc))
        for app_id, participant_id in sorted(unit.revocations):
            try:
                await self._revoker.revoke(app_id, participant_id)
            except Exception as exc:  # noqa: BLE001
                log.error("token_revoke_failed", app_id=app_id, participant_id=participant_id, error=str(exc))

    @contextlib.asynccontextmanager
    async def _live_unit(self, app_id: str, meeting_id: str) -> AsyncIterator[UnitOfWork]:
        """The meeting's live session, locked (NO_ACTIVE_SESSION when none or it just ended)."""
        session_id = await self._live_session_id(app_id, meeting_id)
        async with self._unit(session_id) as unit:
            if unit.session.status != LIVE:
                raise ApiError("NO_ACTIVE_SESSION", f"Meeting {meeting_id} has no active session.",
                               meetingId=meeting_id)
            yield unit

    async def _live_session_id(self, app_id: str, meeting_id: str) -> str:
        async with self._pool.acquire() as conn:
            session_id = await pg.live_session_id(conn, app_id, meeting_id)
        if session_id is None:
            raise ApiError("NO_ACTIVE_SESSION", f"Meeting {meeting_id} has no active session.", meetingId=meeting_id)
        return session_id

    # -- join / leave / heartbeat / disconnect ------------------------------------------------
    async def join(self, *, app_id: str, meeting_id: str, participant_id: str, preset_id: str, token_id: str = "",
                   peer_id: str = "", resume_token: str = "", display_name: str = "",
                   client: peer_pb2.ClientInfo | None = None, socket_session_id: str = "") -> SIG.JoinResponse:
        for name, value in (("app_id", app_id), ("meeting_id", meeting_id), ("participant_id", participant_id),
                            ("preset_id", preset_id)):
            if not value:
                raise invalid_field(name, "is required")
        socket_session_id = socket_session_id or str(uuid.uuid4())
        if resume_token:
            return await self._resume(app_id=app_id, meeting_id=meeting_id, participant_id=participant_id,
                                      peer_id=_uuid(peer_id, "peer_id"), resume_token=resume_token,
                                      socket_session_id=socket_session_id)
        peer_id = _uuid(peer_id, "peer_id") if peer_id else str(uuid.uuid4())
        meeting = await self._directory.meeting(app_id, meeting_id)
        if meeting.status == meeting_pb2.MEETING_STATUS_INACTIVE:
            raise ApiError("MEETING_INACTIVE", f"Meeting {meeting_id} is inactive.", meetingId=meeting_id)
        preset = await self._directory.preset(app_id, preset_id)
        participant = await self._directory.participant(app_id, meeting_id, participant_id)
        permissions = preset.permissions
        keep_alive = meeting.session_keep_alive_time_in_secs if meeting.HasField("session_keep_alive_time_in_secs") \
            else self.config.default_keep_alive
        title = meeting.title if meeting.HasField("title") else ""

        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await pg.lock_meeting(conn, app_id, meeting_id)
                session, created = None, False
                while session is None:
                    session_id = await pg.live_session_id(conn, app_id, meeting_id)
                    created = session_id is None
                    if created:
                        session_id = str(uuid.uuid4())
                        await pg.insert_session(conn, session_id=session_id, app_id=app_id, meeting_id=meeting_id,
                                                title=title, keep_alive_seconds=keep_alive)
                    session = await pg.lock_session(conn, session_id)
                    if session is not None and session.status != LIVE:
                        session = None  # ended while we waited for its lock: start a new one
                if await pg.get_peer(conn, peer_id) is not None:
                    raise invalid_field("peer_id", "is already in use")
                unit = UnitOfWork(conn, session, await pg.present_peers(conn, session_id), await pg.now(conn))
                if created:
                    await unit.emit("session_started", "session_started",
                                    ev.SessionStarted(session=await unit.session_proto()))
                    log.info("session_started", app_id=app_id, meeting_id=meeting_id, session_id=session_id)
                resume = secrets.token_urlsafe(32)
                stage_status = OFF_STAGE if permissions.stage_enabled else ON_STAGE
                name = display_name.strip()[:255] or (participant.name if participant.HasField("name") else "")
                values: dict[str, Any] = {
                    "id": peer_id, "session_id": session_id, "app_id": app_id, "meeting_id": meeting_id,
                    "participant_id": participant_id,
                    "custom_participant_id": participant.custom_participant_id,
                    "display_name": name,
                    "picture": participant.picture if participant.HasField("picture") else "",
                    "preset_id": preset_id, "preset_name": preset.name or participant.preset_name,
                    "permissions": permissions.SerializeToString(), "view_type": preset.config.view_type,
                    "hidden": permissions.hidden_participant, "recorder": perm.is_recorder(permissions),
                    "state": WAITLISTED, "waiting_room_type": perm.waiting_room_type(permissions),
                    "stage_status": stage_status, "resume_token_hash": _hash(resume), "token_id": token_id,
                    "socket_session_id": socket_session_id,
                    "client": client.SerializeToString() if client is not None else None,
                    "waitlisted_at": unit.now, "last_seen_at": unit.now,
                }
                await pg.insert_peer(conn, values)
                peer = await pg.get_peer(conn, peer_id)
                assert peer is not None
                unit.peers[peer.id] = peer
                await unit.peer_event(peer, "PEER_CREATED")
                if self._admitted_on_arrival(unit, peer):
                    await self._admit(unit, peer, push_join=False)
                else:
                    await unit.update_session(empty_since=None)
                    await unit.emit("waiting_room_peer_added", "waiting_room_peer_added",
                                    ev.WaitingRoomPeerAdded(session_id=session_id, peer=m.peer_record(peer, unit.now)))
                    self._notify_waiting_room(unit)
                log.info("peer_joined", app_id=app_id, meeting_id=meeting_id, session_id=session_id, peer_id=peer_id,
                         state=peer.state)
                response = await self._join_response(unit, peer, resume_token=resume, reconnected=False)
        await self._after_commit(unit)
        return response

    def _admitted_on_arrival(self, unit: UnitOfWork, peer: PeerRec) -> bool:
        """Waiting-room rule for a new peer (docs/waiting-room.md)."""
        mode = peer.waiting_room_type
        if mode == P.WAITING_ROOM_TYPE_SKIP or perm.can_accept_waiting(peer.permissions):
            return True
        if mode == P.WAITING_ROOM_TYPE_ON_PRIVILEGED_USER_ENTRY:
            return any(perm.can_accept_waiting(p.permissions) for p in unit.present() if p.id != peer.id)
        return False  # SKIP_ON_ACCEPT

    async def _resume(self, *, app_id: str, meeting_id: str, participant_id: str, peer_id: str, resume_token: str,
                      socket_session_id: str) -> SIG.JoinResponse:
        async with self._pool.acquire() as conn:
            found = await pg.get_peer(conn, peer_id)
        if found is None or found.app_id != app_id or found.meeting_id != meeting_id or \
                found.participant_id != participant_id or \
                not hmac.compare_digest(found.resume_token_hash, _hash(resume_token)):
            raise ApiError("TOKEN_INVALID", "The resume token is not valid for this peer.", peerId=peer_id)
        if found.state == LEFT:
            raise ApiError("PEER_NOT_FOUND", "The peer has left (resume window passed); join again.", peerId=peer_id)
        async with self._unit(found.session_id) as unit:
            peer = unit.peers.get(peer_id)
            if peer is None or unit.session.status != LIVE:
                raise ApiError("PEER_NOT_FOUND", "The peer has left; join again.", peerId=peer_id)
            new_token = secrets.token_urlsafe(32)
            await self._revive(unit, peer, socket_session_id=socket_session_id, resume_hash=_hash(new_token))
            response = await self._join_response(unit, peer, resume_token=new_token, reconnected=True)
        return response

    async def _revive(self, unit: UnitOfWork, peer: PeerRec, *, socket_session_id: str | None = None,
                      resume_hash: str | None = None) -> None:
        """A disconnected (or still connected) peer is back on a transport."""
        was_disconnected = peer.state == DISCONNECTED
        changes: dict[str, Any] = {"last_seen_at": unit.now, "disconnected_at": None}
        if was_disconnected:
            changes["state"] = JOINED if peer.joined_at is not None else WAITLISTED
        if socket_session_id is not None:
            changes["socket_session_id"] = socket_session_id
        if resume_hash is not None:
            changes["resume_token_hash"] = resume_hash
        await unit.update_peer(peer, **changes)
        await unit.peer_event(peer, "PEER_JOINING", "resumed")
        await unit.update_session(empty_since=None)
        if peer.state == JOINED and perm.can_accept_waiting(peer.permissions):
            await self._admit_privileged_waiting(unit)
        log.info("peer_resumed", session_id=unit.session.id, peer_id=peer.id)

    async def leave(self, peer_id: str) -> None:
        try:
            async with self._peer_unit(peer_id) as (unit, peer):
                await self._remove(unit, peer, "left")
        except ApiError as exc:
            if exc.reason != "PEER_NOT_FOUND":  # leaving twice is fine
                raise

    async def heartbeat(self, peer_id: str) -> int:
        async with self._pool.acquire() as conn:
            state = await pg.touch_peer(conn, _uuid(peer_id, "peer_id"))
        if state in (JOINED, WAITLISTED):
            return S.ROOM_STATE_JOINED if state == JOINED else S.ROOM_STATE_WAITLISTED
        if state == DISCONNECTED:  # the transport was only slow: revive it
            async with self._peer_unit(peer_id) as (unit, peer):
                if peer.state == DISCONNECTED:
                    await self._revive(unit, peer)
                return S.ROOM_STATE_JOINED if peer.state == JOINED else S.ROOM_STATE_WAITLISTED
        raise ApiError("PEER_NOT_FOUND", f"No peer with id {peer_id} in a live session.", peerId=peer_id)

    async def disconnect(self, peer_id: str) -> None:
        try:
            async with self._peer_unit(peer_id) as (unit, peer):
                await self._disconnect(unit, peer)
        except ApiError as exc:
            if exc.reason != "PEER_NOT_FOUND":
                raise

    async def _disconnect(self, unit: UnitOfWork, peer: PeerRec) -> None:
        if peer.state not in (JOINED, WAITLISTED):
            return
        if self.config.resume_window <= 0:
            await self._remove(unit, peer, "disconnected", notify_self=False)
            return
        await unit.update_peer(peer, state=DISCONNECTED, disconnected_at=unit.now)
        await unit.peer_event(peer, "PEER_LEAVING", "disconnected")
        log.info("peer_disconnected", session_id=unit.session.id, peer_id=peer.id)

    # -- admission, removal, session end (the building blocks) --------------------------------
    async def _admit(self, unit: UnitOfWork, peer: PeerRec, *, actor_peer_id: str = "", push_join: bool = True,
                     automatic: bool = False) -> None:
        was_waiting = peer.joined_at is None and push_join
        await unit.update_peer(peer, state=JOINED, joined_at=unit.now, last_seen_at=unit.now)
        await unit.peer_event(peer, "PEER_JOINING", "admitted" if was_waiting else "")
        present = len(unit.present())
        await unit.update_session(empty_since=None,
                                  max_concurrent_participants=max(unit.session.max_concurrent_participants, present))
        record = m.peer_record(peer, unit.now)
        await unit.emit("participant_joined", "participant_joined",
                        ev.SessionParticipantJoined(session=await unit.session_proto(), peer=record))
        if was_waiting:
            await unit.emit("waiting_room_peer_decided", "waiting_room_peer_decided",
                            ev.WaitingRoomPeerDecided(session_id=unit.session.id, peer=record, accepted=True,
                                                      actor_peer_id="" if automatic else actor_peer_id))
            unit.send(peer.id, m.server(join_response=await self._join_response(unit, peer)))
            self._notify_waiting_room(unit)
        if peer.listed:
            unit.broadcast(m.server(participant_joined=SIG.ParticipantJoined(participant=m.participant_info(peer))),
                           exclude=[peer.id])
        if perm.can_accept_waiting(peer.permissions):
            await self._admit_privileged_waiting(unit)

    async def _admit_privileged_waiting(self, unit: UnitOfWork) -> None:
        """ON_PRIVILEGED_USER_ENTRY peers are admitted as soon as a privileged peer is present."""
        for waiting in [p for p in unit.peers.values() if p.state == WAITLISTED]:
            if waiting.waiting_room_type == P.WAITING_ROOM_TYPE_ON_PRIVILEGED_USER_ENTRY:
                await self._admit(unit, waiting, automatic=True)

    async def _remove(self, unit: UnitOfWork, peer: PeerRec, state: str, *, actor_peer_id: str = "",
                      notify_self: bool = True, message: str = "") -> None:
        """The peer is gone for good with room state `state` (left, kicked, rejected, ended, disconnected)."""
        was_admitted = peer.joined_at is not None and peer.state in (JOINED, DISCONNECTED)
        was_waiting = peer.state == WAITLISTED or (peer.state == DISCONNECTED and peer.joined_at is None)
        had_request = peer.stage_status == REQUESTED
        left_at = peer.disconnected_at if state == "disconnected" and peer.disconnected_at else unit.now
        changes: dict[str, Any] = {"state": LEFT, "leave_state": state, "left_at": left_at}
        if peer.permissions.stage_enabled and peer.stage_status != OFF_STAGE:
            changes["stage_status"] = OFF_STAGE
        await unit.update_peer(peer, **changes)
        if was_admitted:
            await unit.update_session(minutes_closed=unit.session.minutes_closed + peer.minutes(unit.now))
        if not (state == "disconnected" and peer.disconnected_at):
            await unit.peer_event(peer, "PEER_LEAVING", state)
        del unit.peers[peer.id]
        if notify_self:
            unit.send(peer.id, m.server(room_state=SIG.RoomStateChanged(state=m.room_state(state),
                                                                         message=message,
                                                                         actor_peer_id=actor_peer_id)))
        record = m.peer_record(peer, unit.now)
        if was_admitted:
            await unit.emit("participant_left", "participant_left",
                            ev.SessionParticipantLeft(session=await unit.session_proto(), peer=record))
            if peer.listed and not unit.ending:
                unit.broadcast(m.server(participant_left=SIG.ParticipantLeft(
                    peer_id=peer.id, user_id=peer.participant_id, state=m.room_state(state))))
        if was_waiting:
            if state == "rejected":
                await unit.emit("waiting_room_peer_decided", "waiting_room_peer_decided",
                                ev.WaitingRoomPeerDecided(session_id=unit.session.id, peer=record, accepted=False,
                                                          actor_peer_id=actor_peer_id))
            if not unit.ending:
                self._notify_waiting_room(unit)
        if had_request and not unit.ending:
            self._notify_stage_requests(unit)
        if not unit.peers and not unit.ending:
            await unit.update_session(empty_since=unit.now)
        log.info("peer_left", session_id=unit.session.id, peer_id=peer.id, state=state)

    async def _end_session(self, unit: UnitOfWork, reason: str, *, actor_peer_id: str = "") -> None:
        unit.ending = True
        for peer in list(unit.peers.values()):
            await self._remove(unit, peer, "ended", actor_peer_id=actor_peer_id,
                               notify_self=peer.state != DISCONNECTED, message="The session has ended.")
        await unit.update_session(status=ENDED, ended_at=unit.now, end_reason=reason, empty_since=None)
        session = await unit.session_proto()
        reason_value = S.SessionEndReason.Value(f"SESSION_END_REASON_{reason}")
        await unit.emit("session_ended", "session_ended", ev.SessionEnded(session=session, reason=reason_value))
        count = await pg.count_chat(unit.conn, unit.session.id)
        url, expires = self.chat_export_url(unit.session.app_id, unit.session.id, ttl=CHAT_EVENT_URL_TTL)
        await unit.emit("chat_synced", "chat_synced",
                        ev.ChatSynced(session=session, chat_download_url=url, chat_download_url_expiry=expires,
                                      message_count=count))
        log.info("session_ended", app_id=unit.session.app_id, meeting_id=unit.session.meeting_id,
                 session_id=unit.session.id, reason=reason)

    def _notify_waiting_room(self, unit: UnitOfWork) -> None:
        requests = SIG.WaitingRoomRequests(requests=m.waiting_requests(unit.peers.values()))
        unit.broadcast(m.server(waiting_room_requests=requests), where=lambda p: perm.can_accept_waiting(p.permissions))

    def _notify_stage_requests(self, unit: UnitOfWork) -> None:
        requests = SIG.StageRequests(requests=m.stage_requests(unit.peers.values()))
        unit.broadcast(m.server(stage_requests=requests), where=lambda p: perm.can_moderate_stage(p.permissions))

    def _notify_updated(self, unit: UnitOfWork, peer: PeerRec, fields: list[str]) -> None:
        if peer.listed and peer.present:
            unit.broadcast(m.server(participant_updated=SIG.ParticipantUpdated(
                participant=m.participant_info(peer), changed_fields=fields)), exclude=[peer.id])

    async def _join_response(self, unit: UnitOfWork, peer: PeerRec, *, resume_token: str = "",
                             reconnected: bool = False) -> SIG.JoinResponse:
        waitlisted = peer.state == WAITLISTED or (peer.state == DISCONNECTED and peer.joined_at is None)
        response = SIG.JoinResponse(
            peer_id=peer.id,
            room_state=S.ROOM_STATE_WAITLISTED if waitlisted else S.ROOM_STATE_JOINED,
            session_id=unit.session.id,
            self=m.participant_info(peer, own=True),
            permissions=peer.permissions,
            waitlisted=waitlisted,
            resume_token=resume_token,
            reconnected=reconnected,
            heartbeat_interval_seconds=max(int(self.config.heartbeat_interval), 1),
            resume_window_seconds=int(self.config.resume_window),
            meeting=SIG.MeetingInfo(id=unit.session.meeting_id, title=unit.session.meeting_title,
                                    view_type=peer.view_type, session_start_time=m.ts(unit.session.started_at)),
        )
        if waitlisted:
            return response  # waiting peers see nothing of the session
        others = [p for p in unit.present() if p.id != peer.id and p.listed]
        response.participants.extend(m.participant_info(p) for p in others)
        response.stage.CopyFrom(m.stage_state(unit.peers.values(), peer))
        response.pinned_peer_ids.extend(p.id for p in unit.present() if p.is_pinned and (p.listed or p.id == peer.id))
        if self.config.chat_history_on_join:
            rows = await self._visible_chat(unit.conn, unit.session.id, peer, before=None, after=None,
                                            limit=self.config.chat_history_on_join, newest_first=True)
            response.chat.extend(m.chat_message(r) for r in reversed(rows))
        if peer.permissions.polls.can_view:
            response.polls.extend(await self._polls(unit.conn, unit.session.id, peer.participant_id))
        if perm.can_accept_waiting(peer.permissions):
            response.waiting_room_requests.extend(m.waiting_requests(unit.peers.values()))
        if perm.can_moderate_stage(peer.permissions):
            response.stage_requests.extend(m.stage_requests(unit.peers.values()))
        return response

    # -- client messages (handlers live in the mixins) ----------------------------------------
    async def handle(self, peer_id: str, message: SIG.ClientMessage) -> SIG.ServerMessage:
        kind = message.WhichOneof("message")
        request_id = message.request_id
        try:
            if kind is None:
                raise invalid_field("message", "is empty")
            if kind == "join":
                raise invalid_field("join", "use SessionService.JoinSession")
            if kind == "leave":
                await self.leave(peer_id)
                return m.server(request_id, ack=SIG.Ack())
            if kind == "heartbeat":
                await self.heartbeat(peer_id)
                return m.server(request_id, ack=SIG.Ack())
            handler = getattr(self, f"_on_{kind}")
            read_only = kind in ("chat_fetch", "sync", "waiting_room_list", "stage_request_list")
            async with self._peer_unit(peer_id, lock=not read_only) as (unit, peer):
                if not read_only:
                    if peer.state == DISCONNECTED:  # the transport is evidently alive again
                        await self._revive(unit, peer)
                    else:
                        await unit.update_peer(peer, last_seen_at=unit.now)
                waiting = peer.state == WAITLISTED or (peer.state == DISCONNECTED and peer.joined_at is None)
                if waiting and kind != "sync":
                    raise ApiError("NOT_ADMITTED", "Waiting-room peers cannot do this until admitted.", peerId=peer_id)
                reply = await handler(unit, peer, getattr(message, kind), request_id)
            return reply if reply is not None else m.server(request_id, ack=SIG.Ack())
        except ApiError as exc:
            return error_message(request_id, exc)

    async def _on_sync(self, unit: UnitOfWork, peer: PeerRec, body: Any, request_id: str):
        return m.server(request_id, join_response=await self._join_response(unit, peer))

    # -- background: stale peers, expired resume windows, sessions past keep-alive -----------
    async def reap(self) -> int:
        """One pass; returns the number of changes. Safe to run on every replica at once."""
        changes = 0
        async with self._pool.acquire() as conn:
            stale = await pg.stale_peers(conn, self.config.heartbeat_timeout)
            expired = await pg.expired_peers(conn, self.config.resume_window)
            ending = await pg.sessions_to_end(conn)
        for peer_id, _ in stale:
            with contextlib.suppress(ApiError):
                async with self._peer_unit(peer_id) as (unit, peer):
                    if peer.state in (JOINED, WAITLISTED) and \
                            (unit.now - peer.last_seen_at).total_seconds() >= self.config.heartbeat_timeout:
                        await self._disconnect(unit, peer)
                        changes += 1
        for peer_id, _ in expired:
            with contextlib.suppress(ApiError):
                async with self._peer_unit(peer_id) as (unit, peer):
                    if peer.state == DISCONNECTED and peer.disconnected_at is not None and \
                            (unit.now - peer.disconnected_at).total_seconds() >= self.config.resume_window:
                        await self._remove(unit, peer, "disconnected", notify_self=False)
                        changes += 1
        for session_id in ending:
            with contextlib.suppress(ApiError):
                async with self._unit(session_id) as unit:
                    s = unit.session
                    if s.status == LIVE and not unit.peers and s.empty_since is not None and \
                            (unit.now - s.empty_since).total_seconds() >= s.keep_alive_seconds:
                        await self._end_session(unit, "ALL_PARTICIPANTS_LEFT")
                        changes += 1
        return changes
