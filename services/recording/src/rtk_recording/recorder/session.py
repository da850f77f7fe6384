"""The recorder bot in a live session, through the real signaling path (Python SDK).

`SdkSession.connect()` joins with the recorder participant's token (preset `recorder_preset_v2`:
is_recorder, hidden — the orchestrator never shows it to the others) and receives every track
(the SDK subscribes to all after join). What it receives comes from the SDK's
`received_tracks()`: each live remote track (publisher, RealtimeKit kind, mid) with the aiortc
receiver of that mid, reported to the listener as a `RemoteTrack`.

`poll()` (called by the job about ten times a second, and on every SDK participant or track
event) reconciles what the SDK receives with what was reported: every visible joined participant on
stage (`participants.joined`: hidden peers such as recorders are not in it; presets without a
stage are always on it) is reported
with `peer_joined` (again when their name changes) and `peer_left`, whether or not they publish,
and their tracks with `track_added`/`track_removed`, so that every ordering of
"participant joined" and "track arrived" works, peers leaving remove their tracks, and a
renegotiation — a peer stopping or starting a track, a new subscriber connection after a
reconnect — re-reports the track on its new receiver (the pipeline keeps its file).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from rtkit.logging import get_logger

from rtk_recording.recorder.pipeline import RemoteTrack

log = get_logger("rtk_recording.session")

# RealtimeKit track kinds (SDK) → pipeline labels
_LABELS = {"audio": "audio", "video": "video", "screenshare": "screenshare", "screenshareAudio": "screenshare_audio"}


class SessionListener(Protocol):
    def track_added(self, track: RemoteTrack) -> None: ...

    def track_removed(self, key: str) -> None: ...

    def peer_joined(self, peer_id: str, name: str) -> None: ...

    def peer_left(self, peer_id: str) -> None: ...

    def session_lost(self, reason: str) -> None: ...


class MediaSession(Protocol):
    peer_id: str
    session_id: str

    def visible_peers(self) -> int: ...

    def poll(self) -> None: ...

    async def close(self) -> None: ...


class SdkSession:
    """A recorder peer on top of `realtimekit.RealtimeKitClient`."""

    def __init__(self, meeting: Any, listener: SessionListener) -> None:
        self.meeting = meeting
        self.listener = listener
        self.peer_id = ""
        self.session_id = ""
        self._known: dict[str, RemoteTrack] = {}
        self._peers: dict[str, str] = {}  # visible participant → name, as reported
        self._closed = False

    @classmethod
    async def connect(cls, token: str, base_url: str, listener: SessionListener, *,
                      join_timeout: float = 20.0) -> SdkSession:
        from realtimekit import RealtimeKitClient

        meeting = await asyncio.wait_for(
            RealtimeKitClient.init(auth_token=token, base_url=base_url, display_name="Recorder",
                                   auto_subscribe=True), join_timeout)
        session = cls(meeting, listener)
        try:
            await asyncio.wait_for(session._join(), join_timeout)
        except BaseException:
            with contextlib.suppress(Exception):
                await meeting.leave()
            raise
        return session

    async def _join(self) -> None:
        m = self.meeting
        participants = m.participants.joined
        for event in ("participantJoined", "participantLeft", "audioUpdate", "videoUpdate", "screenShareUpdate"):
            participants.on(event, lambda *_args, **_kw: self.poll())
        m.self.on("roomLeft", self._on_room_left)
        await m.join()
        if m.self.room_state != "joined":
            raise RuntimeError(f"the recorder was not admitted (room state {m.self.room_state})")
        self.peer_id = m.self.id
        self.session_id = m.meta.session_id or ""
        self.poll()

    # -- reconciliation -----------------------------------------------------------------------
    def poll(self) -> None:
        """Report tracks that appeared (or moved to a new receiver) and tracks that went away."""
        if self._closed:
            return
        joined = self.meeting.participants.joined
        present: dict[str, RemoteTrack] = {}
        for received in self.meeting.received_tracks():
            label = _LABELS.get(received.kind)
            if label is None or received.peer_id == self.peer_id:
                continue
            participant = joined.get(received.peer_id)
            present[f"{received.peer_id}:{label}"] = RemoteTrack(
                peer_id=received.peer_id, user_id=getattr(participant, "user_id", "") or "",
                name=getattr(participant, "name", "") or "", label=label, receiver=received.receiver)
        for key in [k for k in self._known if k not in present]:
            self._known.pop(key)
            self.listener.track_removed(key)
        for key, track in present.items():
            known = self._known.get(key)
            if known is not None and known.receiver is track.receiver:
                if not known.user_id and track.user_id:  # the participant's details arrived late
                    known.user_id, known.name = track.user_id, track.name
                continue
            self._known[key] = track
            self.listener.track_added(track)
        # Only participants who may be seen: on stage (presets without a stage are always on it).
        # Webinar viewers off stage get no tile, as in RealtimeKit's recordings.
        peers = {p.id: getattr(p, "name", "") or "" for p in joined.to_list()
                 if getattr(p, "stage_status", "ON_STAGE") == "ON_STAGE"}
        peers.pop(self.peer_id, None)
        for peer_id in [p for p in self._peers if p not in peers]:
            self._peers.pop(peer_id)
            self.listener.peer_left(peer_id)
        for peer_id, name in peers.items():
            if self._peers.get(peer_id) != name:
                self._peers[peer_id] = name
                self.listener.peer_joined(peer_id, name)

    def _on_room_left(self, event: Any) -> None:
        if self._closed:
            return
        state = event.get("state") if isinstance(event, dict) else str(event)
        if state in ("kicked", "ended", "rejected", "left", "failed"):
            self.listener.session_lost(f"the recorder's room state became {state}")

    def visible_peers(self) -> int:
        return len(self.meeting.participants.joined)

    async def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.meeting.leave(), 5)
