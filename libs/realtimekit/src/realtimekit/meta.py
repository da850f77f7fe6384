"""`meeting.meta` (reference §10.9): meeting and session identity, socket state, media server.

Event: `socketConnectionUpdate({state, reconnection_attempt, reconnected})` with state
`connected` | `disconnected` | `reconnecting` | `failed`.

`media` is where the session's media runs (`{node_id, region, reason, location_source,
distance_km}`, None without a media server); `join_timing` how long joining took (seconds
from `join()`: `joined`, `media_connected`, `first_remote_frame`, `first_remote_audio`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from realtimekit.events import EventEmitter


class Meta(EventEmitter):
    def __init__(self, meeting_id: str) -> None:
        super().__init__()
        self.meeting_id = meeting_id
        self.meeting_title = ""
        self.session_id = ""
        self.meeting_started_timestamp: datetime | None = None
        self.view_type = ""
        self.socket_state: dict[str, object] = {"state": "disconnected", "reconnection_attempt": 0, "reconnected": False}
        self.media_state: dict[str, object] = {}
        self.media: dict[str, object] | None = None
        self.join_timing: Any = None  # realtimekit.media.JoinTiming, set by the client

    def _socket(self, state: str, attempt: int = 0, reconnected: bool = False) -> None:
        self.socket_state = {"state": state, "reconnection_attempt": attempt, "reconnected": reconnected}
        self.emit("socketConnectionUpdate", dict(self.socket_state))
