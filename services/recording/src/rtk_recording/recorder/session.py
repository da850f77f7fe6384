"""The recorder bot in a live session, through the real signaling path (Python SDK).

`SdkSession.connect()` joins with the recorder participant's token (preset `recorder_preset_v2`:
is_recorder, hidden — the orchestrator never shows it to the others), follows the participants
joining and leaving, and reports every remote track the SDK's media module receives as a
`RemoteTrack` (publisher, label and the aiortc receiver it arrives on). Renegotiations (a peer
publishing or stopping a track, screen share on/off) reach the listener as track changes; a
track that comes back on a new receiver keeps its file.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from rtkit.logging import get_logger

from rtk_recording.recorder.pipeline import RemoteTrack

log = get_logger("rtk_recording.session")


class SessionListener(Protocol):
    def track_added(self, track: RemoteTrack) -> None: ...

    def track_removed(self, key: str) -> None: ...

    def peer_left(self, peer_id: str) -> None: ...

    def session_lost(self, reason: str) -> None: ...


class MediaSession(Protocol):
    peer_id: str
    session_id: str

    def visible_peers(self) -> int: ...

    async def close(self) -> None: ...


def _receiver_of(pc: Any, track: Any) -> Any:
    for transceiver in pc.getTransceivers():
        if transceiver.receiver is not None and transceiver.receiver.track is track:
            return transceiver.receiver
    return None


class SdkSession:
    """A recorder peer on top of `realtimekit.RealtimeKitClient`."""

    def __init__(self, meeting: Any, listener: SessionListener) -> None:
        self.meeting = meeting
        self.listener = listener
        self.peer_id = ""
        self.session_id = ""
        self._known: dict[str, RemoteTrack] = {}

    @classmethod
    async def connect(cls, token: str, base_url: str, listener: SessionListener, *,
                      join_timeout: float = 20.0) -> SdkSession:
        from realtimekit import RealtimeKitClient

        meeting = await asyncio.wait_for(
            RealtimeKitClient.init(auth_token=token, base_url=base_url, display_name="Recorder"), join_timeout)
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
        m.participants.joined.on("participantLeft", lambda p: self._on_left(getattr(p, "id", "")))
        m.self.on("roomLeft", self._on_room_left)
        self._wire_media()
        await m.join()
        if m.self.room_state != "joined":
            raise RuntimeError(f"the recorder was not admitted (room state {m.self.room_state})")
        self.peer_id = m.self.id
        self.session_id = m.meta.session_id or ""
        await self._enable_receiving()

    # -- media ------------------------------------------------------------------------------
    def _wire_media(self) -> None:
        """Hook the SDK's receiving side. Two shapes are understood: a `media` module emitting
        `trackAdded` / `trackRemoved` with (participant, label, track, receiver), and remote
        participants exposing `audio_track` / `video_track` / `screen_share_tracks` with
        `*Update` events."""
        m = self.meeting
        media = getattr(m, "media", None)
        if media is not None and hasattr(media, "on"):
            media.on("trackAdded", self._on_media_track)
            media.on("trackRemoved", self._on_media_track_removed)
        participants = m.participants.joined
        for event in ("videoUpdate", "audioUpdate", "screenShareUpdate", "participantJoined", "participantUpdated"):
            participants.on(event, lambda *args, **kw: self._scan())

    async def _enable_receiving(self) -> None:
        m = self.meeting
        media = getattr(m, "media", None)
        for name in ("subscribe_all", "start_receiving", "receive"):
            fn = getattr(media, name, None) if media is not None else None
            if fn is not None:
                result = fn()
                if asyncio.iscoroutine(result):
                    await result
                break
        self._scan()

    def _on_media_track(self, event: Any) -> None:
        get = event.get if isinstance(event, dict) else lambda k, d=None: getattr(event, k, d)
        peer_id = get("peer_id") or get("peerId") or ""
        label = get("label") or get("kind") or ""
        track = get("track")
        receiver = get("receiver") or (self._receiver(track) if track is not None else None)
        if not peer_id or not label or receiver is None:
            return
        participant = self.meeting.participants.joined.get(peer_id) if hasattr(
            self.meeting.participants.joined, "get") else None
        self._add(RemoteTrack(peer_id=peer_id, user_id=getattr(participant, "user_id", "") or get("user_id") or "",
                              name=getattr(participant, "name", "") or "", label=label, receiver=receiver))

    def _on_media_track_removed(self, event: Any) -> None:
        get = event.get if isinstance(event, dict) else lambda k, d=None: getattr(event, k, d)
        peer_id = get("peer_id") or get("peerId") or ""
        label = get("label") or get("kind") or ""
        key = f"{peer_id}:{label}"
        if self._known.pop(key, None) is not None:
            self.listener.track_removed(key)

    def _receiver(self, track: Any) -> Any:
        media = getattr(self.meeting, "media", None)
        for attr in ("subscriber_pc", "receive_pc", "pc"):
            pc = getattr(media, attr, None) if media is not None else None
            if pc is not None:
                receiver = _receiver_of(pc, track)
                if receiver is not None:
                    return receiver
        return getattr(track, "receiver", None)

    def _scan(self) -> None:
        """Participant-attribute shape: pick up tracks present on the participant objects."""
        try:
            participants = self.meeting.participants.joined.to_list()
        except Exception:  # noqa: BLE001
            return
        present: set[str] = set()
        for p in participants:
            candidates = [("audio", getattr(p, "audio_track", None)), ("video", getattr(p, "video_track", None))]
            shares = getattr(p, "screen_share_tracks", None)
            if isinstance(shares, dict):
                candidates += [("screenshare", shares.get("video")), ("screenshare_audio", shares.get("audio"))]
            for label, track in candidates:
                if track is None:
                    continue
                receiver = self._receiver(track)
                if receiver is None:
                    continue
                rt = RemoteTrack(peer_id=p.id, user_id=getattr(p, "user_id", ""), name=getattr(p, "name", ""),
                                 label=label, receiver=receiver)
                present.add(rt.key)
                self._add(rt)
        for key in [k for k in self._known if k not in present and self._known[k].peer_id not in
                    {getattr(p, "id", "") for p in participants}]:
            self._known.pop(key, None)
            self.listener.track_removed(key)

    def _add(self, track: RemoteTrack) -> None:
        known = self._known.get(track.key)
        if known is not None and known.receiver is track.receiver:
            return
        self._known[track.key] = track
        self.listener.track_added(track)

    # -- participants -----------------------------------------------------------------------
    def _on_left(self, peer_id: str) -> None:
        if not peer_id:
            return
        for key in [k for k, t in self._known.items() if t.peer_id == peer_id]:
            self._known.pop(key, None)
        self.listener.peer_left(peer_id)

    def _on_room_left(self, event: Any) -> None:
        state = event.get("state") if isinstance(event, dict) else str(event)
        if state in ("kicked", "ended", "rejected"):
            self.listener.session_lost(f"the recorder's room state became {state}")

    def visible_peers(self) -> int:
        return len(self.meeting.participants.joined)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.meeting.leave(), 5)
