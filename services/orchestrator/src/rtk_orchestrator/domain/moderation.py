"""Waiting-room decisions and moderation: kick, kick-all, mute, pin, over signaling and REST."""

from __future__ import annotations

from typing import Any

from realtime.events.v1 import session_events_pb2 as ev
from realtime.meeting.v1 import participant_pb2, preset_pb2
from realtime.session.v1 import session_pb2
from realtime.signaling.v1 import signal_pb2
from rtkit.errors import ApiError, invalid_field
from rtkit.logging import get_logger

from rtk_orchestrator.domain import messages as m
from rtk_orchestrator.domain import permissions as perm
from rtk_orchestrator.domain.common import (
    _ENABLED,
    _KIND_FIELD,
    _LOCKED,
)
from rtk_orchestrator.domain.models import (
    DISCONNECTED,
    JOINED,
    WAITLISTED,
    PeerRec,
)
from rtk_orchestrator.domain.unit import UnitOfWork

log = get_logger("rtk_orchestrator")
S = session_pb2
SIG = signal_pb2
P = preset_pb2


class ModerationMixin:
    """Mixed into Orchestrator (rtk_orchestrator.domain.orchestrator); uses its units of work."""

    def _targets(self, unit: UnitOfWork, ids: list[str], *, states: tuple[str, ...]) -> list[PeerRec]:
        wanted = set(ids)
        return [p for p in unit.peers.values() if p.state in states and (p.id in wanted or p.participant_id in wanted)]

    async def _on_waiting_room_decision(self, unit: UnitOfWork, peer: PeerRec, body: SIG.WaitingRoomDecision,
                                        request_id: str) -> None:
        if not perm.can_accept_waiting(peer.permissions):
            raise perm.denied("accept_waiting_requests", "Your preset may not admit or reject waiting peers.")
        if body.action not in (SIG.WAITING_ROOM_ACTION_ACCEPT, SIG.WAITING_ROOM_ACTION_REJECT):
            raise invalid_field("action", "must be accept or reject")
        if body.all:
            targets = [p for p in unit.peers.values() if p.state == WAITLISTED]
        else:
            if not body.peer_ids:
                raise invalid_field("peer_ids", "give peer ids or all")
            targets = self._targets(unit, list(body.peer_ids), states=(WAITLISTED,))
            if not targets:
                raise ApiError("PEER_NOT_FOUND", "None of these peers is waiting.", peerIds=",".join(body.peer_ids))
        for target in targets:
            if body.action == SIG.WAITING_ROOM_ACTION_ACCEPT:
                await self._admit(unit, target, actor_peer_id=peer.id)
            else:
                await self._remove(unit, target, "rejected", actor_peer_id=peer.id,
                                   message="A host rejected your request to join.")

    async def _on_waiting_room_list(self, unit: UnitOfWork, peer: PeerRec, body: Any, request_id: str):
        if not perm.can_accept_waiting(peer.permissions):
            raise perm.denied("accept_waiting_requests", "Your preset may not see the waiting room.")
        return m.server(request_id, waiting_room_requests=SIG.WaitingRoomRequests(
            requests=m.waiting_requests(unit.peers.values())))

    async def _on_kick(self, unit: UnitOfWork, peer: PeerRec, body: SIG.KickRequest, request_id: str) -> None:
        if not peer.permissions.kick_participant:
            raise perm.denied("kick_participant", "Your preset may not remove participants.", code="1201")
        if body.all:
            await self._kick_all(unit, actor_peer_id=peer.id)
            return
        if not body.peer_ids:
            raise invalid_field("peer_ids", "give peer ids or all")
        targets = self._targets(unit, list(body.peer_ids), states=(WAITLISTED, JOINED, DISCONNECTED))
        if not targets:
            raise ApiError("PEER_NOT_FOUND", "None of these peers is in the session.", peerIds=",".join(body.peer_ids))
        await self._kick(unit, targets, actor_peer_id=peer.id)

    async def _kick(self, unit: UnitOfWork, targets: list[PeerRec], *, actor_peer_id: str = "") -> None:
        for target in targets:
            await self._remove(unit, target, "kicked", actor_peer_id=actor_peer_id,
                               notify_self=target.state != DISCONNECTED, message="You were removed from the meeting.")
            unit.revocations.add((target.app_id, target.participant_id))
        await unit.emit("participants_kicked", "participants_kicked", ev.ParticipantsKicked(
            session_id=unit.session.id, peer_ids=[t.id for t in targets],
            participant_ids=sorted({t.participant_id for t in targets}), actor_peer_id=actor_peer_id))

    async def _kick_all(self, unit: UnitOfWork, *, actor_peer_id: str = "") -> int:
        peers = list(unit.peers.values())
        for p in peers:
            unit.revocations.add((p.app_id, p.participant_id))
        await unit.emit("participants_kicked", "participants_kicked", ev.ParticipantsKicked(
            session_id=unit.session.id, peer_ids=[p.id for p in peers],
            participant_ids=sorted({p.participant_id for p in peers}), actor_peer_id=actor_peer_id, all=True))
        await self._end_session(unit, "HOST_ENDED_MEETING", actor_peer_id=actor_peer_id)
        return len({p.participant_id for p in peers})

    async def _on_mute(self, unit: UnitOfWork, peer: PeerRec, body: SIG.MuteRequest, request_id: str) -> None:
        kind = body.kind or S.MEDIA_KIND_AUDIO
        if kind not in _KIND_FIELD:
            raise invalid_field("kind", "must be audio, video or screenshare")
        if not perm.may_mute(peer.permissions, kind):
            name = perm.mute_permission(kind)
            raise perm.denied(name, f"Your preset may not turn off others' {_KIND_FIELD[kind]}.")
        if body.all:
            targets = [p for p in unit.present() if p.id != peer.id]
        else:
            if not body.peer_ids:
                raise invalid_field("peer_ids", "give peer ids or all")
            targets = self._targets(unit, list(body.peer_ids), states=(JOINED, DISCONNECTED))
            if not targets:
                raise ApiError("PEER_NOT_FOUND", "None of these peers is in the session.",
                               peerIds=",".join(body.peer_ids))
        await self._mute(unit, targets, [kind], body.allow_unmute, actor_peer_id=peer.id)

    async def _mute(self, unit: UnitOfWork, targets: list[PeerRec], kinds: list[int], allow_unmute: bool, *,
                    actor_peer_id: str = "") -> None:
        for target in targets:
            changes: dict[str, Any] = {}
            for kind in kinds:
                name = _KIND_FIELD[kind]
                if getattr(target, _ENABLED[name]):
                    changes[_ENABLED[name]] = False
                changes[_LOCKED[name]] = not allow_unmute
                unit.send(target.id, m.server(media_moderation=SIG.MediaModeration(
                    kind=kind, allow_unmute=allow_unmute, actor_peer_id=actor_peer_id)))
            await unit.update_peer(target, **changes)
            changed = [k for k in changes if k.endswith("_enabled")]
            if changed:
                self._notify_updated(unit, target, changed)
        await unit.emit("participants_muted", "participants_muted", ev.ParticipantsMuted(
            session_id=unit.session.id, peer_ids=[t.id for t in targets], kinds=kinds, allow_unmute=allow_unmute,
            actor_peer_id=actor_peer_id))

    async def _on_pin(self, unit: UnitOfWork, peer: PeerRec, body: SIG.PinRequest, request_id: str) -> None:
        if not peer.permissions.pin_participant:
            raise perm.denied("pin_participant", "Your preset may not pin participants.")
        targets = self._targets(unit, [body.peer_id], states=(JOINED, DISCONNECTED))
        if not targets:
            raise ApiError("PEER_NOT_FOUND", f"Peer {body.peer_id} is not in the session.", peerId=body.peer_id)
        pinned = not body.unpin
        for target in targets:
            if target.is_pinned == pinned:
                continue
            await unit.update_peer(target, is_pinned=pinned)
            message = m.server(pinned=SIG.Pinned(peer_id=target.id, pinned=pinned))
            unit.broadcast(message, where=lambda p, t=target: t.listed or p.id == t.id)
            await unit.emit("participant_pinned", "participant_pinned", ev.ParticipantPinned(
                session_id=unit.session.id, peer_id=target.id, pinned=pinned, actor_peer_id=peer.id))

    async def kick_participants(self, app_id: str, meeting_id: str, participant_ids: list[str],
                                custom_ids: list[str]) -> list[participant_pb2.Participant]:
        if not participant_ids and not custom_ids:
            raise invalid_field("participant_ids", "give participant_ids or custom_participant_ids")
        async with self._live_unit(app_id, meeting_id) as unit:
            wanted, custom = set(participant_ids), set(custom_ids)
            targets = [p for p in unit.peers.values()
                       if p.participant_id in wanted or (p.custom_participant_id and p.custom_participant_id in custom)]
            if targets:
                await self._kick(unit, targets)
        return await self._participants(app_id, meeting_id, targets)

    async def kick_all(self, app_id: str, meeting_id: str) -> tuple[int, session_pb2.Session]:
        async with self._live_unit(app_id, meeting_id) as unit:
            count = await self._kick_all(unit)
            session = await unit.session_proto()
        return count, session

    async def mute_participants(self, app_id: str, meeting_id: str, participant_ids: list[str], custom_ids: list[str],
                                kinds: list[int], allow_unmute: bool, *, everyone: bool = False
                                ) -> list[participant_pb2.Participant]:
        if not everyone and not participant_ids and not custom_ids:
            raise invalid_field("participant_ids", "give participant_ids or custom_participant_ids")
        kinds = list(dict.fromkeys(kinds or [S.MEDIA_KIND_AUDIO]))
        if any(k not in _KIND_FIELD for k in kinds):
            raise invalid_field("kinds", "must be audio, video or screenshare")
        async with self._live_unit(app_id, meeting_id) as unit:
            wanted, custom = set(participant_ids), set(custom_ids)
            targets = [p for p in unit.present()
                       if everyone or p.participant_id in wanted
                       or (p.custom_participant_id and p.custom_participant_id in custom)]
            if targets:
                await self._mute(unit, targets, kinds, allow_unmute)
        if everyone:
            return [participant_pb2.Participant(id=pid) for pid in sorted({t.participant_id for t in targets})]
        return await self._participants(app_id, meeting_id, targets)

    async def participant_deleted(self, app_id: str, meeting_id: str, participant_id: str) -> int:
        """The meeting service deleted a participant: its peers leave the live session (`kicked`)."""
        try:
            async with self._live_unit(app_id, meeting_id) as unit:
                targets = [p for p in unit.peers.values() if p.participant_id == participant_id]
                for target in targets:
                    await self._remove(unit, target, "kicked", notify_self=target.state != DISCONNECTED,
                                       message="The participant was deleted.")
        except ApiError as exc:
            if exc.reason == "NO_ACTIVE_SESSION":
                return 0
            raise
        return len(targets)

    async def _participants(self, app_id: str, meeting_id: str, peers: list[PeerRec]
                            ) -> list[participant_pb2.Participant]:
        out = []
        seen: set[str] = set()
        for peer in peers:
            if peer.participant_id in seen:
                continue
            seen.add(peer.participant_id)
            try:
                out.append(await self._directory.participant(app_id, meeting_id, peer.participant_id))
            except Exception:  # noqa: BLE001 - deleted meanwhile: answer with what the peer knew
                fallback = participant_pb2.Participant(
                    id=peer.participant_id, app_id=app_id, meeting_id=meeting_id,
                    custom_participant_id=peer.custom_participant_id, preset_name=peer.preset_name,
                    preset_id=peer.preset_id, name=peer.display_name)
                if peer.picture:
                    fallback.picture = peer.picture
                out.append(fallback)
        return out
