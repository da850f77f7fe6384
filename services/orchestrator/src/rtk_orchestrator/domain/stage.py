"""Stage (reference §8) and own media: transitions, permissions, producer authorization."""

from __future__ import annotations

from typing import Any

from realtime.events.v1 import session_events_pb2 as ev
from realtime.meeting.v1 import preset_pb2
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
    _is_uuid,
)
from rtk_orchestrator.domain.models import (
    ACCEPTED,
    DISCONNECTED,
    JOINED,
    LEFT,
    OFF_STAGE,
    ON_STAGE,
    REQUESTED,
    PeerRec,
)
from rtk_orchestrator.domain.unit import UnitOfWork
from rtk_orchestrator.store import pg

log = get_logger("rtk_orchestrator")
S = session_pb2
SIG = signal_pb2
P = preset_pb2


class StageMixin:
    """Mixed into Orchestrator (rtk_orchestrator.domain.orchestrator); uses its units of work."""

    async def _set_stage(self, unit: UnitOfWork, peer: PeerRec, status: str, reason: str,
                         actor_peer_id: str = "") -> None:
        previous = peer.stage_status
        if previous == status:
            return
        changes: dict[str, Any] = {"stage_status": status, "stage_changed_at": unit.now}
        changed = ["stage_status"]
        if status in (OFF_STAGE, REQUESTED):  # off stage: nothing may stay published
            for enabled in _ENABLED.values():
                if getattr(peer, enabled):
                    changes[enabled] = False
                    changed.append(enabled)
        await unit.update_peer(peer, **changes)
        unit.send(peer.id, m.server(stage_status=SIG.StageStatusChanged(
            peer_id=peer.id, status=m.stage_status(status), previous_status=m.stage_status(previous), reason=reason)))
        self._notify_updated(unit, peer, changed)
        if REQUESTED in (previous, status):
            self._notify_stage_requests(unit)
        await unit.emit("stage_status_changed", "stage_status_changed", ev.StageStatusChanged(
            session_id=unit.session.id, peer_id=peer.id, participant_id=peer.participant_id,
            status=m.stage_status(status), previous_status=m.stage_status(previous), actor_peer_id=actor_peer_id))

    async def _on_stage_action(self, unit: UnitOfWork, peer: PeerRec, body: SIG.StageAction, request_id: str) -> None:
        action = body.action
        if action in (SIG.STAGE_ACTION_TYPE_GRANT_ACCESS, SIG.STAGE_ACTION_TYPE_DENY_ACCESS,
                      SIG.STAGE_ACTION_TYPE_KICK):
            if not perm.can_moderate_stage(peer.permissions):
                raise perm.denied("accept_stage_requests", "Your preset may not manage the stage.")
            if not body.user_ids:
                raise invalid_field("user_ids", "is required")
            targets = [t for t in self._targets(unit, list(body.user_ids), states=(JOINED, DISCONNECTED))
                       if t.permissions.stage_enabled]
            if not targets:
                raise ApiError("PEER_NOT_FOUND", "None of these participants is in the session with stage enabled.",
                               userIds=",".join(body.user_ids))
            for target in targets:
                if action == SIG.STAGE_ACTION_TYPE_GRANT_ACCESS and target.stage_status in (OFF_STAGE, REQUESTED):
                    await self._set_stage(unit, target, ACCEPTED, "grantAccess", peer.id)
                elif action == SIG.STAGE_ACTION_TYPE_DENY_ACCESS and target.stage_status == REQUESTED:
                    await self._set_stage(unit, target, OFF_STAGE, "denyAccess", peer.id)
                elif action == SIG.STAGE_ACTION_TYPE_KICK and target.stage_status in (ON_STAGE, ACCEPTED):
                    await self._set_stage(unit, target, OFF_STAGE, "kick", peer.id)
            return
        if not peer.permissions.stage_enabled:
            raise ApiError("STAGE_ACCESS_NOT_ALLOWED", "Stage management does not apply to your preset.",
                           permission="stage_enabled")
        access = perm.stage_access(peer.permissions)
        status = peer.stage_status
        if action == SIG.STAGE_ACTION_TYPE_REQUEST_ACCESS:
            if access == P.STAGE_ACCESS_NOT_ALLOWED:
                raise ApiError("STAGE_ACCESS_NOT_ALLOWED", "Your preset may not join the stage.",
                               permission="stage_access")
            if status == OFF_STAGE:
                target = ACCEPTED if access == P.STAGE_ACCESS_ALLOWED else REQUESTED
                await self._set_stage(unit, peer, target, "requestAccess")
        elif action == SIG.STAGE_ACTION_TYPE_CANCEL_REQUEST_ACCESS:
            if status == REQUESTED:
                await self._set_stage(unit, peer, OFF_STAGE, "cancelRequestAccess")
        elif action == SIG.STAGE_ACTION_TYPE_JOIN:
            if status == ACCEPTED or (status == OFF_STAGE and access == P.STAGE_ACCESS_ALLOWED):
                await self._set_stage(unit, peer, ON_STAGE, "join")
            elif status != ON_STAGE:
                raise ApiError("STAGE_ACCESS_NOT_ALLOWED", "You have not been accepted to the stage.",
                               stageStatus=status)
        elif action == SIG.STAGE_ACTION_TYPE_LEAVE:
            if status in (ON_STAGE, ACCEPTED):
                await self._set_stage(unit, peer, OFF_STAGE, "leave")
        else:
            raise invalid_field("action", "unknown stage action")

    async def _on_stage_request_list(self, unit: UnitOfWork, peer: PeerRec, body: Any, request_id: str):
        if not perm.can_moderate_stage(peer.permissions):
            raise perm.denied("accept_stage_requests", "Your preset may not see stage requests.")
        return m.server(request_id, stage_requests=SIG.StageRequests(requests=m.stage_requests(unit.peers.values())))

    def producer_refusal(self, peer: PeerRec, kind: int) -> ApiError | None:
        """Why `peer` may not publish `kind` now (None: it may)."""
        if peer.state == LEFT:
            return ApiError("PEER_NOT_FOUND", "The peer has left.", peerId=peer.id)
        if peer.state != JOINED:
            return ApiError("NOT_ADMITTED", "The peer is not admitted to the session.", peerId=peer.id)
        if kind not in _KIND_FIELD:
            return invalid_field("kind", "must be audio, video or screenshare")
        name = _KIND_FIELD[kind]
        value = perm.produce(peer.permissions, kind)
        if value == perm.NOT_ALLOWED:
            return perm.denied(f"media.{name}.can_produce", f"Your preset may not publish {name}.")
        if getattr(peer, _LOCKED[name]):
            return ApiError("FORBIDDEN", f"A moderator turned off your {name}.", kind=name)
        if peer.permissions.stage_enabled:
            if peer.stage_status != ON_STAGE:
                return ApiError("STAGE_ACCESS_NOT_ALLOWED", "Join the stage before publishing.",
                                stageStatus=peer.stage_status)
        elif value == perm.CAN_REQUEST:
            return ApiError("STAGE_ACCESS_NOT_ALLOWED", f"Publishing {name} needs an accepted request.", kind=name)
        return None

    async def _on_media_update(self, unit: UnitOfWork, peer: PeerRec, body: SIG.MediaStateUpdate,
                               request_id: str) -> None:
        changes: dict[str, Any] = {}
        for field, kind in (("audio_enabled", S.MEDIA_KIND_AUDIO), ("video_enabled", S.MEDIA_KIND_VIDEO),
                            ("screen_share_enabled", S.MEDIA_KIND_SCREENSHARE)):
            if not body.HasField(field):
                continue
            value = getattr(body, field)
            if value:
                refusal = self.producer_refusal(peer, kind)
                if refusal is not None:
                    raise refusal
            if getattr(peer, field) != value:
                changes[field] = value
        if changes:
            await unit.update_peer(peer, **changes)
            self._notify_updated(unit, peer, list(changes))

    async def authorize_producer(self, peer_id: str, kind: int) -> tuple[PeerRec | None, ApiError | None]:
        if not _is_uuid(peer_id):
            return None, ApiError("PEER_NOT_FOUND", f"No peer with id {peer_id}.", peerId=peer_id)
        async with self._pool.acquire() as conn:
            peer = await pg.get_peer(conn, peer_id)
        if peer is None:
            return None, ApiError("PEER_NOT_FOUND", f"No peer with id {peer_id}.", peerId=peer_id)
        return peer, self.producer_refusal(peer, kind)
