"""What the domain needs from the outside, as small protocols (adapters.py implements them)."""

from __future__ import annotations

from typing import Protocol

from realtime.meeting.v1 import meeting_pb2
from realtime.recording.v1 import recorder_pb2
from realtime.session.v1 import session_pb2


class Directory(Protocol):
    async def meeting(self, app_id: str, meeting_id: str) -> meeting_pb2.Meeting:
        """The meeting; raises ApiError MEETING_NOT_FOUND."""

    async def active_session(self, app_id: str, meeting_id: str) -> session_pb2.Session | None: ...

    async def add_recorder_participant(self, app_id: str, meeting_id: str, preset_name: str,
                                       name: str, custom_id: str) -> tuple[str, str]:
        """Create the recorder bot participant; returns (participant id, participant token)."""


class RecorderLink(Protocol):
    async def send(self, recorder_id: str, command: recorder_pb2.RecorderCommand,
                   wait: float = 10.0) -> recorder_pb2.RecorderCommandResult:
        """Deliver a command to the recorder process `recorder_id` (raises on no answer)."""
