"""The media module: publishing and receiving audio, video and screen share through the
session's SFU (docs/signaling.md §13).

Two WebRTC connections per peer, as LiveKit does, so that offers never cross:

* publishing — the client offers (`media_offer`, one m-line per published kind, reused when a
  kind is turned off and on), the SFU answers; a track the SFU refuses (preset, stage,
  moderator) raises the typed error from the answer and is turned off again;
* receiving — the SFU offers (`media_offer` push) whenever remote tracks need new m-lines, the
  client answers (`media_answer`); `media_tracks` pushes say which participant and kind each
  m-line carries. Received frames are decoded here (aiortc) and exposed as `RemoteTrack`s on
  the participants (`audio_track`, `video_track`, `screen_share_track`).

Without a track, `enable_video()` publishes a moving 640×480 test pattern and `enable_audio()`
a tone (realtimekit.sources). After `join()` the client receives everybody's tracks unless
`init(..., auto_subscribe=False)`; `meeting.participants.subscribe(...)` picks others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, NamedTuple

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from realtimekit import wire
from realtimekit.errors import CODE_INVALID_STATE, ClientError, error_for
from realtimekit.sources import TestPatternVideoTrack, ToneAudioTrack
from realtimekit.tracks import OutgoingTrack, RemoteTrack

if TYPE_CHECKING:
    from realtimekit.client import RealtimeKitClient

log = logging.getLogger("realtimekit.media")

S = wire.signal_pb2

#: SDK kind names (RealtimeKit's) → protocol TrackKind
TRACK_KINDS = {
    "audio": S.TRACK_KIND_AUDIO,
    "video": S.TRACK_KIND_VIDEO,
    "screenshare": S.TRACK_KIND_SCREENSHARE,
    "screenshareVideo": S.TRACK_KIND_SCREENSHARE,
    "screenshare_video": S.TRACK_KIND_SCREENSHARE,
    "screenshareAudio": S.TRACK_KIND_SCREENSHARE_AUDIO,
    "screenshare_audio": S.TRACK_KIND_SCREENSHARE_AUDIO,
}
KIND_NAMES = {
    S.TRACK_KIND_AUDIO: "audio",
    S.TRACK_KIND_VIDEO: "video",
    S.TRACK_KIND_SCREENSHARE: "screenshare",
    S.TRACK_KIND_SCREENSHARE_AUDIO: "screenshareAudio",
}
MEDIA_KIND = {"audio": "audio", "video": "video", "screenshare": "video", "screenshareAudio": "audio"}

_patched_ice = False


def _allow_loopback_fallback() -> None:
    """aioice never gathers loopback candidates; on a host with no other address that leaves a
    connection without candidates (it never starts). Fall back to 127.0.0.1 there."""
    global _patched_ice
    if _patched_ice:
        return
    _patched_ice = True
    original = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
        found = original(use_ipv4, use_ipv6)
        return found or (["127.0.0.1"] if use_ipv4 else [])

    aioice.ice.get_host_addresses = get_host_addresses


def _kinds(kinds: Any) -> list[int]:
    if kinds is None:
        return []
    if isinstance(kinds, str):
        kinds = [kinds]
    out = []
    for k in kinds:
        if k not in TRACK_KINDS:
            raise ClientError("0010", f"Unknown media kind {k!r}; use audio, video, screenshare or screenshareAudio.")
        out.append(TRACK_KINDS[k])
    return out


class JoinTiming:
    """How long joining took (seconds from `join()`): `joined`, `media_connected` (receiving
    connection up), `first_remote_frame` (first decoded remote video frame), `first_remote_audio`."""

    def __init__(self) -> None:
        self.started_at: float | None = None
        self.joined: float | None = None
        self.media_connected: float | None = None
        self.first_remote_frame: float | None = None
        self.first_remote_audio: float | None = None

    def start(self) -> None:
        self.__init__()  # type: ignore[misc]
        self.started_at = time.monotonic()

    def mark(self, name: str, at: float | None = None) -> None:
        if self.started_at is None or getattr(self, name) is not None:
            return
        setattr(self, name, round((at or time.monotonic()) - self.started_at, 4))

    def to_dict(self) -> dict[str, float | None]:
        return {"joined": self.joined, "media_connected": self.media_connected,
                "first_remote_frame": self.first_remote_frame, "first_remote_audio": self.first_remote_audio}

    def __repr__(self) -> str:
        return f"JoinTiming({self.to_dict()})"


class ReceivedTrack(NamedTuple):
    """A track this client receives, with its WebRTC receiver: for server-side consumers
    (recorders, bots) that read the encoded RTP rather than decoded frames."""

    peer_id: str
    kind: str  # audio | video | screenshare | screenshareAudio
    mid: str
    track: RemoteTrack
    receiver: RTCRtpReceiver


class _Published:
    def __init__(self, label: str, transceiver: RTCRtpTransceiver, outgoing: OutgoingTrack) -> None:
        self.label = label
        self.transceiver = transceiver
        self.outgoing = outgoing
        self.track: MediaStreamTrack | None = None
        self.synthetic = False


class MediaSession:
    """Per-meeting media state; reached through `meeting.self` and `meeting.participants`."""

    def __init__(self, client: RealtimeKitClient, *, auto_subscribe: bool = True,
                 ice_servers: list[Any] | None = None) -> None:
        self._client = client
        self.auto_subscribe = auto_subscribe
        self._ice_servers = [s if isinstance(s, RTCIceServer) else RTCIceServer(**s) for s in (ice_servers or [])]
        self.timing = JoinTiming()
        # publishing
        self._pub_pc: RTCPeerConnection | None = None
        self._pub_new = True
        self._published: dict[str, _Published] = {}
        self._pub_lock = asyncio.Lock()
        # receiving
        self._sub_pc: RTCPeerConnection | None = None
        self._sub_connection_id = ""
        self._remote: dict[str, RemoteTrack] = {}  # mid → track
        self._consumers: dict[str, asyncio.Task[None]] = {}
        self._pushes: asyncio.Queue[Any] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._selection_all = True
        self._selection_kinds: list[int] = []
        self._manual: dict[str, list[int]] = {}
        self.active_speaker: str | None = None
        self._closed = False

    # -- state ---------------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        return self._client.meta.media is not None

    def track_of(self, peer_id: str, kind: str) -> RemoteTrack | None:
        for track in self._remote.values():
            if track.peer_id == peer_id and track.track_kind == kind and track.readyState == "live":
                return track
        return None

    def remote_tracks(self) -> list[RemoteTrack]:
        return [t for t in self._remote.values() if t.readyState == "live"]

    def received_tracks(self) -> list[ReceivedTrack]:
        pc = self._sub_pc
        if pc is None:
            return []
        receivers = {t.mid: t.receiver for t in pc.getTransceivers() if t.mid is not None}
        return [ReceivedTrack(t.peer_id, t.track_kind, t.mid, t, receivers[t.mid])
                for t in self.remote_tracks() if t.mid in receivers]

    def published_track(self, label: str) -> MediaStreamTrack | None:
        entry = self._published.get(label)
        return entry.track if entry is not None else None

    # -- lifecycle -----------------------------------------------------------------------------
    def on_joined(self, reconnected: bool) -> None:
        """Called when the peer is admitted (or resumed): start receiving."""
        self._closed = False
        self.timing.mark("joined")
        if not self.available:
            return
        if self.auto_subscribe or reconnected or not self._selection_all:
            self._spawn(self._resubscribe(), "realtimekit-media-subscribe")

    async def _resubscribe(self) -> None:
        try:
            if self._selection_all:
                await self._subscribe(S.SUBSCRIBE_ACTION_ALL, [], self._selection_kinds)
            else:
                for peer_id, kinds in self._manual.items():
                    await self._subscribe(S.SUBSCRIBE_ACTION_ADD, [peer_id], kinds)
        except ClientError as exc:
            log.warning("media subscribe failed: %s", exc)

    async def close(self) -> None:
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
        for task in list(self._consumers.values()):
            task.cancel()
        self._consumers.clear()
        for track in list(self._remote.values()):
            track.stop()
        self._remote.clear()
        for entry in self._published.values():
            if entry.synthetic and entry.track is not None:
                entry.track.stop()
            entry.outgoing.stop()
        self._published.clear()
        for pc in (self._pub_pc, self._sub_pc):
            if pc is not None:
                with contextlib.suppress(Exception):
                    await pc.close()
        self._pub_pc = self._sub_pc = None
        self._pub_new = True

    def _new_pc(self) -> RTCPeerConnection:
        _allow_loopback_fallback()
        return RTCPeerConnection(RTCConfiguration(iceServers=list(self._ice_servers),
                                                  bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))

    def _require(self) -> None:
        if self._client.self.room_state != "joined":
            raise ClientError(CODE_INVALID_STATE, "Join the meeting before using media.")
        if not self.available:
            raise ClientError("0503", "No media server is available for this session.", "NO_SFU_CAPACITY")

    # -- publishing ------------------------------------------------------------------------------
    async def publish(self, label: str, track: MediaStreamTrack | None) -> MediaStreamTrack:
        """Publish `track` as `label` (audio | video | screenshare | screenshareAudio); a synthetic
        source when None. Raises the SFU's typed error when it refuses the track."""
        self._require()
        synthetic = track is None
        if track is None:
            track = self._synthetic(label)
        if track.kind != MEDIA_KIND[label]:
            raise ClientError("0010", f"A {track.kind} track cannot be published as {label}.")
        async with self._pub_lock:
            entry = await self._ensure_transceiver(label)
            previous, was_synthetic = entry.track, entry.synthetic
            entry.track, entry.synthetic = track, synthetic
            entry.outgoing.set_source(track)
            entry.transceiver.direction = "sendonly"
            try:
                refused = await self._negotiate()
            except BaseException:
                entry.outgoing.set_source(None)
                entry.transceiver.direction = "inactive"
                entry.track, entry.synthetic = None, False
                if synthetic:
                    track.stop()
                raise
            if previous is not None and previous is not track and was_synthetic:
                previous.stop()
            error = refused.get(label)
            if error is not None:
                entry.outgoing.set_source(None)
                entry.transceiver.direction = "inactive"
                entry.track, entry.synthetic = None, False
                if synthetic:
                    track.stop()
                with contextlib.suppress(ClientError):
                    await self._negotiate()
                raise error
        return track

    async def unpublish(self, label: str) -> bool:
        async with self._pub_lock:
            entry = self._published.get(label)
            if entry is None or entry.track is None:
                return False
            track, synthetic = entry.track, entry.synthetic
            entry.track, entry.synthetic = None, False
            entry.outgoing.set_source(None)
            entry.transceiver.direction = "inactive"
            if synthetic:
                track.stop()
            if self._pub_pc is not None and self._client.self.room_state == "joined":
                with contextlib.suppress(ClientError):
                    await self._negotiate()
            return True

    def _synthetic(self, label: str) -> MediaStreamTrack:
        video = dict((self._client._defaults.get("mediaConfiguration") or {}).get("video") or {})
        if label == "video":
            return TestPatternVideoTrack(int(video.get("width", 640)), int(video.get("height", 480)),
                                         float(video.get("frameRate", 15)), seed=hash(self._client.self.id) % 97)
        if label == "screenshare":
            share = dict((self._client._defaults.get("mediaConfiguration") or {}).get("screenshare") or {})
            return TestPatternVideoTrack(int(share.get("width", 1280)), int(share.get("height", 720)),
                                         float(share.get("frameRate", 5)), distinct=10, seed=7)
        if label == "audio":
            return ToneAudioTrack(frequency=330 + (hash(self._client.self.id) % 12) * 20)
        return ToneAudioTrack(frequency=880, amplitude=0.1)

    async def _ensure_transceiver(self, label: str) -> _Published:
        if self._pub_pc is None:
            self._pub_pc = self._new_pc()
            self._pub_new = True
            self._published.clear()
        entry = self._published.get(label)
        if entry is None:
            outgoing = OutgoingTrack(MEDIA_KIND[label])
            transceiver = self._pub_pc.addTransceiver(outgoing, direction="sendonly")
            entry = self._published[label] = _Published(label, transceiver, outgoing)
        return entry

    async def _negotiate(self, *, retried: bool = False) -> dict[str, ClientError]:
        """One offer/answer of the publishing connection; returns the refusals by label."""
        pc = self._pub_pc
        assert pc is not None
        await pc.setLocalDescription(await pc.createOffer())
        tracks = [S.MediaTrack(mid=e.transceiver.mid, kind=TRACK_KINDS[e.label])
                  for e in self._published.values() if e.transceiver.direction == "sendonly" and e.transceiver.mid]
        offer = S.MediaOffer(sdp=pc.localDescription.sdp, tracks=tracks, role=S.MEDIA_CONNECTION_ROLE_PUBLISHER,
                             new_connection=self._pub_new)
        try:
            reply = await self._client._request(media_offer=offer)
        except ClientError as exc:
            # aiortc cannot roll an offer back: start over with a new connection next time.
            await self._reset_publisher()
            if not retried and exc.details.get("problem") == "mediaConnectionLost":
                return await self._republish()
            raise
        answer = reply.media_answer
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        self._pub_new = False
        by_mid = {e.transceiver.mid: e.label for e in self._published.values()}
        refused: dict[str, ClientError] = {}
        for refusal in answer.refused:
            label = by_mid.get(refusal.mid) or KIND_NAMES.get(refusal.kind, "")
            error = error_for(refusal.error.reason, refusal.error.message, **dict(refusal.error.metadata))
            if refusal.error.code and refusal.error.code[:1].isdigit():
                error.code = refusal.error.code
            refused[label] = error
        return refused

    async def _reset_publisher(self) -> None:
        pc, self._pub_pc = self._pub_pc, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()
        self._pub_new = True

    async def _republish(self) -> dict[str, ClientError]:
        """The SFU lost the publishing connection: publish what we had on a new one."""
        entries = [(e.label, e.track, e.synthetic) for e in self._published.values() if e.track is not None]
        self._published.clear()
        for label, track, synthetic in entries:
            entry = await self._ensure_transceiver(label)
            entry.track, entry.synthetic = track, synthetic
            entry.outgoing.set_source(track)
        return await self._negotiate(retried=True)

    async def stop_for_moderation(self, kind: str) -> None:
        """A moderator turned our `kind` off: stop sending it (the SFU already dropped it)."""
        labels = {"audio": ["audio"], "video": ["video"], "screenshare": ["screenshare", "screenshareAudio"]}
        for label in labels.get(kind, []):
            await self.unpublish(label)

    async def stop_all(self) -> None:
        for label in list(self._published):
            await self.unpublish(label)

    # -- receiving -----------------------------------------------------------------------------
    async def subscribe(self, peer_ids: list[str], kinds: Any = None) -> None:
        self._require()
        codes = _kinds(kinds)
        if self._selection_all:
            for p in peer_ids:
                self._manual.pop(p, None)
        else:
            for p in peer_ids:
                self._manual[p] = codes
        await self._subscribe(S.SUBSCRIBE_ACTION_ADD, peer_ids, codes)

    async def unsubscribe(self, peer_ids: list[str], kinds: Any = None) -> None:
        self._require()
        if not self._selection_all:
            for p in peer_ids:
                self._manual.pop(p, None)
        await self._subscribe(S.SUBSCRIBE_ACTION_REMOVE, peer_ids, _kinds(kinds))

    async def set_subscriptions(self, peer_ids: list[str], kinds: Any = None) -> None:
        self._require()
        codes = _kinds(kinds)
        self._selection_all = False
        self._manual = {p: codes for p in peer_ids}
        await self._subscribe(S.SUBSCRIBE_ACTION_SET, peer_ids, codes)

    async def subscribe_all(self, kinds: Any = None) -> None:
        self._require()
        self._selection_all, self._selection_kinds, self._manual = True, _kinds(kinds), {}
        await self._subscribe(S.SUBSCRIBE_ACTION_ALL, [], self._selection_kinds)

    async def _subscribe(self, action: int, peer_ids: list[str], kinds: list[int]) -> None:
        await self._client._request(media_subscribe=S.MediaSubscribe(action=action, peer_ids=peer_ids, kinds=kinds))

    def on_push(self, message: Any) -> None:
        """media_offer / media_tracks / active_speaker pushes, handled in arrival order."""
        if self._closed:
            return
        self._pushes.put_nowait(message)
        if self._worker is None or self._worker.done():
            self._worker = self._spawn(self._work(), "realtimekit-media-pushes")

    async def _work(self) -> None:
        while not self._pushes.empty() and not self._closed:
            message = self._pushes.get_nowait()
            kind = message.WhichOneof("message")
            try:
                if kind == "media_offer":
                    await self._on_offer(message.media_offer)
                elif kind == "media_tracks":
                    self._apply_tracks(message.media_tracks.tracks, message.media_tracks.connection_id)
                elif kind == "active_speaker":
                    self._on_speaker(message.active_speaker)
            except ClientError as exc:
                log.warning("media %s failed: %s", kind, exc)
            except Exception:  # noqa: BLE001 - keep handling later pushes
                log.exception("media %s failed", kind)

    async def _on_offer(self, offer: Any) -> None:
        if offer.new_connection or self._sub_pc is None or offer.connection_id != self._sub_connection_id:
            await self._reset_subscriber()
            pc = self._sub_pc = self._new_pc()
            self._sub_connection_id = offer.connection_id
            pc.on("track", lambda track, pc=pc: self._on_track(pc, track))
            pc.on("connectionstatechange", lambda pc=pc: self._on_sub_state(pc))
        pc = self._sub_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        self._apply_tracks(offer.tracks, offer.connection_id)
        await pc.setLocalDescription(await pc.createAnswer())
        await self._client._request(media_answer=S.MediaAnswer(sdp=pc.localDescription.sdp,
                                                                connection_id=offer.connection_id))

    async def _reset_subscriber(self) -> None:
        for task in list(self._consumers.values()):
            task.cancel()
        self._consumers.clear()
        self._apply_tracks([], self._sub_connection_id)
        pc, self._sub_pc = self._sub_pc, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()

    def _on_sub_state(self, pc: RTCPeerConnection) -> None:
        if pc is self._sub_pc and pc.connectionState == "connected":
            self.timing.mark("media_connected")

    def _on_track(self, pc: RTCPeerConnection, track: MediaStreamTrack) -> None:
        mid = next((t.mid for t in pc.getTransceivers() if t.receiver.track is track), None)
        if mid is None:
            return
        self._consumers[mid] = self._spawn(self._consume(mid, track), f"realtimekit-media-{mid}")

    async def _consume(self, mid: str, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                remote = self._remote.get(mid)
                if remote is None or remote.readyState != "live":
                    continue
                remote._deliver(frame)
                if remote.frames_decoded == 1:
                    self.timing.mark("first_remote_frame" if remote.kind == "video" else "first_remote_audio",
                                     remote.first_frame_at)
        except (MediaStreamError, asyncio.CancelledError):
            pass

    def _apply_tracks(self, tracks: Any, connection_id: str) -> None:
        if connection_id and connection_id != self._sub_connection_id:
            return  # for a connection we no longer have
        wanted = {t.mid: (t.peer_id, KIND_NAMES.get(t.kind, "")) for t in tracks if t.mid and t.kind in KIND_NAMES}
        changed: list[tuple[str, str]] = []
        for mid, remote in list(self._remote.items()):
            if wanted.get(mid) != (remote.peer_id, remote.track_kind):
                del self._remote[mid]
                remote.stop()
                changed.append((remote.peer_id, remote.track_kind))
        for mid, (peer_id, kind) in wanted.items():
            if mid in self._remote:
                continue
            self._remote[mid] = RemoteTrack(MEDIA_KIND[kind], peer_id, kind, mid)
            changed.append((peer_id, kind))
        for peer_id, kind in dict.fromkeys(changed):
            self._client._on_remote_track(peer_id, kind)

    def _on_speaker(self, speaker: Any) -> None:
        self.active_speaker = speaker.peer_id
        self._client._on_active_speaker_changed(speaker.peer_id, speaker.volume)

    # -- helpers -------------------------------------------------------------------------------
    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._client._tasks.add(task)
        task.add_done_callback(self._client._tasks.discard)
        return task
