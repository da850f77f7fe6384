"""Domain records of the orchestrator: sessions and peers as stored (plain dataclasses)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from realtime.meeting.v1 import preset_pb2

# Peer states (PeerState without prefix) and session statuses, as stored.
WAITLISTED, JOINED, DISCONNECTED, LEFT = "WAITLISTED", "JOINED", "DISCONNECTED", "LEFT"
LIVE, ENDED = "LIVE", "ENDED"

# Stage statuses, as stored (StageStatus without prefix).
OFF_STAGE = "OFF_STAGE"
REQUESTED = "REQUESTED_TO_JOIN_STAGE"
ACCEPTED = "ACCEPTED_TO_JOIN_STAGE"
ON_STAGE = "ON_STAGE"


@dataclass
class SessionRec:
    id: str
    app_id: str
    meeting_id: str
    meeting_title: str
    status: str
    keep_alive_seconds: int
    started_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    empty_since: dt.datetime | None
    max_concurrent_participants: int
    minutes_closed: float
    chat_seq: int
    created_at: dt.datetime
    updated_at: dt.datetime
    # computed on read
    live_participants: int = 0
    participants_count: int = 0
    minutes_consumed: float = 0.0

    @classmethod
    def from_row(cls, row: Any) -> SessionRec:
        names = {f.name for f in fields(cls)}
        return cls(**{k: (str(v) if k == "id" else v) for k, v in dict(row).items() if k in names})


@dataclass
class PeerRec:
    id: str
    session_id: str
    app_id: str
    meeting_id: str
    participant_id: str
    custom_participant_id: str
    display_name: str
    picture: str
    preset_id: str
    preset_name: str
    permissions: preset_pb2.PresetPermissions
    view_type: int
    hidden: bool
    recorder: bool
    state: str
    leave_state: str | None
    waiting_room_type: int
    stage_status: str
    stage_changed_at: dt.datetime | None
    audio_enabled: bool
    video_enabled: bool
    screen_share_enabled: bool
    audio_locked: bool
    video_locked: bool
    screenshare_locked: bool
    is_pinned: bool
    resume_token_hash: str
    token_id: str
    socket_session_id: str
    client: bytes | None
    waitlisted_at: dt.datetime | None
    joined_at: dt.datetime | None
    left_at: dt.datetime | None
    disconnected_at: dt.datetime | None
    last_seen_at: dt.datetime
    created_at: dt.datetime
    updated_at: dt.datetime
    _extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_row(cls, row: Any) -> PeerRec:
        data = dict(row)
        names = {f.name for f in fields(cls)} - {"_extra"}
        values = {k: v for k, v in data.items() if k in names}
        values["id"] = str(values["id"])
        values["session_id"] = str(values["session_id"])
        perms = preset_pb2.PresetPermissions()
        perms.ParseFromString(bytes(values["permissions"] or b""))
        values["permissions"] = perms
        if values.get("client") is not None:
            values["client"] = bytes(values["client"])
        return cls(**values)

    @property
    def present(self) -> bool:
        """Admitted and not gone (connected or inside the resume window)."""
        return self.state in (JOINED, DISCONNECTED)

    @property
    def connected(self) -> bool:
        return self.state in (JOINED, WAITLISTED)

    @property
    def listed(self) -> bool:
        """Shown to other peers (hidden and recorder peers never are)."""
        return not (self.hidden or self.recorder)

    def minutes(self, now: dt.datetime) -> float:
        if self.joined_at is None:
            return 0.0
        end = self.left_at or now
        return max((end - self.joined_at).total_seconds(), 0.0) / 60.0
