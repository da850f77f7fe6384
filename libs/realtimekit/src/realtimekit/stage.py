"""`meeting.stage` (reference §8): request, grant, deny, join, leave, kick.

Events: `stageStatusUpdate(status)`, `stageAccessRequestUpdate(requests)` (moderators),
`newStageRequest(request)`, `stageRequestApproved`, `stageRequestRejected`, `peerStageStatusUpdate`.
Targets of grant/deny/kick are participant (user) ids or peer ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from realtimekit import wire
from realtimekit.events import EventEmitter

if TYPE_CHECKING:
    from realtimekit.client import RealtimeKitClient

S = wire.signal_pb2


@dataclass(frozen=True, slots=True)
class StageRequest:
    peer_id: str
    user_id: str
    display_name: str


class Stage(EventEmitter):
    def __init__(self, client: RealtimeKitClient) -> None:
        super().__init__()
        self._client = client
        self.access_requests: list[StageRequest] = []
        self.on_stage_peer_ids: list[str] = []
        self.accepted_peer_ids: list[str] = []
        self.requested_peer_ids: list[str] = []

    @property
    def status(self) -> str:
        return self._client.self.stage_status

    async def request_access(self) -> None:
        await self._act(S.STAGE_ACTION_TYPE_REQUEST_ACCESS)

    async def cancel_request_access(self) -> None:
        await self._act(S.STAGE_ACTION_TYPE_CANCEL_REQUEST_ACCESS)

    async def grant_access(self, user_ids: list[str]) -> None:
        await self._act(S.STAGE_ACTION_TYPE_GRANT_ACCESS, user_ids)

    async def deny_access(self, user_ids: list[str]) -> None:
        await self._act(S.STAGE_ACTION_TYPE_DENY_ACCESS, user_ids)

    async def join(self) -> None:
        await self._act(S.STAGE_ACTION_TYPE_JOIN)

    async def leave(self) -> None:
        await self._act(S.STAGE_ACTION_TYPE_LEAVE)

    async def kick(self, user_ids: list[str]) -> None:
        await self._act(S.STAGE_ACTION_TYPE_KICK, user_ids)

    async def get_access_requests(self) -> list[StageRequest]:
        reply = await self._client._request(stage_request_list=S.StageRequestList())
        if reply.HasField("stage_requests"):
            self._set_requests(reply.stage_requests.requests)
        return list(self.access_requests)

    async def _act(self, action: int, user_ids: list[str] | None = None) -> None:
        await self._client._request(stage_action=S.StageAction(action=action, user_ids=list(user_ids or [])))

    def _set_requests(self, requests: object) -> None:
        before = {r.peer_id for r in self.access_requests}
        self.access_requests = [StageRequest(r.peer_id, r.user_id, r.display_name) for r in requests]  # type: ignore[attr-defined]
        for request in self.access_requests:
            if request.peer_id not in before:
                self.emit("newStageRequest", request)
        self.emit("stageAccessRequestUpdate", list(self.access_requests))

    def _set_state(self, state: object) -> None:
        self.on_stage_peer_ids = list(state.on_stage_peer_ids)  # type: ignore[attr-defined]
        self.accepted_peer_ids = list(state.accepted_peer_ids)  # type: ignore[attr-defined]
        self.requested_peer_ids = list(state.requested_peer_ids)  # type: ignore[attr-defined]
