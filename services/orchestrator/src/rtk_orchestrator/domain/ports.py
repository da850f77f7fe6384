"""What the domain needs from the outside world (implemented in rtk_orchestrator.adapters)."""

from __future__ import annotations

from typing import Protocol

from realtime.meeting.v1 import meeting_pb2, participant_pb2, preset_pb2
from realtime.signaling.v1 import signal_pb2


class Directory(Protocol):
    """Meetings, presets and participants (the meeting service)."""

    async def meeting(self, app_id: str, meeting_id: str) -> meeting_pb2.Meeting: ...

    async def preset(self, app_id: str, preset_id: str) -> preset_pb2.Preset: ...

    async def participant(self, app_id: str, meeting_id: str, participant_id: str) -> participant_pb2.Participant: ...


class TokenRevoker(Protocol):
    """Revokes a participant's tokens (the auth service)."""

    async def revoke(self, app_id: str, participant_id: str) -> None: ...


class SignalSink(Protocol):
    """Delivers ServerMessages to one peer (core NATS subject realtime.signal.v1.peers.<peer_id>)."""

    async def send(self, peer_id: str, message: signal_pb2.ServerMessage) -> None: ...
