"""Helpers for media-plane tests: synthetic sources, an aiortc client that talks to a
``PeerTransport`` in-process, polling. Fixtures live in conftest.py."""

from __future__ import annotations

import asyncio
import fractions
import math
import random
import time
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AUDIO_PTIME, MediaStreamError
from prometheus_client import REGISTRY
from rtk_sfu.media import MediaRouter, PeerTransport

VIDEO_CLOCK = 90000


def metric(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    return 0.0 if value is None else value


# --------------------------------------------------------------------------------------------
# synthetic sources


class PatternVideoTrack(MediaStreamTrack):
    """Moving test pattern: colour bars scrolling horizontally plus a bouncing block, so every
    frame differs (real inter-frame coding) yet is cheap to produce."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15, seed: int = 0) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        bars = np.array(
            [
                [235, 235, 235],
                [235, 235, 16],
                [16, 235, 235],
                [16, 235, 16],
                [235, 16, 235],
                [235, 16, 16],
                [16, 16, 235],
            ],
            dtype=np.uint8,
        )
        cols = (np.arange(width * 2) * len(bars) // width) % len(bars)
        self._strip = np.broadcast_to(bars[cols][None, :, :], (height, width * 2, 3))
        self._n = 0
        self._start: float | None = None
        self._rng = random.Random(seed)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            target = self._start + self._n / self.fps
            delay = target - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        n = self._n
        self._n += 1
        shift = (n * 4) % self.width
        img = np.ascontiguousarray(self._strip[:, shift : shift + self.width])
        bs = max(8, self.height // 6)
        x = int((self.width - bs) * (0.5 + 0.5 * math.sin(n / 7)))
        y = int((self.height - bs) * (0.5 + 0.5 * math.cos(n / 11)))
        img[y : y + bs, x : x + bs] = (n * 7) % 256
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = n * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A sine tone, 20 ms frames of 48 kHz mono s16 (audible level, so RFC 6464 levels are
    loud); ``amplitude=0`` gives silence."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.5) -> None:
        super().__init__()
        self.rate = 48000
        self.samples = int(AUDIO_PTIME * self.rate)
        self.frequency = frequency
        self.amplitude = amplitude
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            delay = self._start + self._n * self.samples / self.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        t = (np.arange(self.samples) + self._n * self.samples) / self.rate
        pcm = (self.amplitude * 32767 * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self.rate
        frame.pts = self._n * self.samples
        frame.time_base = fractions.Fraction(1, self.rate)
        self._n += 1
        return frame


# --------------------------------------------------------------------------------------------
# clients


@dataclass
class Received:
    """Decoded media on one client m-line."""

    kind: str
    frames: int = 0
    first_frame_at: float | None = None
    width: int = 0
    height: int = 0
    sizes: set = field(default_factory=set)


class Client:
    """An aiortc participant talking to a ``PeerTransport`` of the SFU in-process."""

    def __init__(self, peer_id: str, transport: PeerTransport) -> None:
        self.peer_id = peer_id
        self.transport = transport
        # max-bundle as browsers do in practice (aiortc's balanced default breaks a second
        # same-kind track in an initial offer)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.received: dict[str, Received] = {}  # client mid -> stats
        self.tracks: list[MediaStreamTrack] = []
        self._consumers: list[asyncio.Task] = []
        self._lock = asyncio.Lock()
        self.renegotiations = 0
        self.pc.on("track", self._on_track)
        transport.on_negotiation_needed = lambda _t: asyncio.ensure_future(self.renegotiate())

    def _on_track(self, track: MediaStreamTrack) -> None:
        mid = next(t.mid for t in self.pc.getTransceivers() if t.receiver.track is track)
        stats = self.received.setdefault(mid, Received(kind=track.kind))
        self._consumers.append(asyncio.ensure_future(self._consume(track, stats)))

    async def _consume(self, track: MediaStreamTrack, stats: Received) -> None:
        try:
            while True:
                frame = await track.recv()
                stats.frames += 1
                if stats.first_frame_at is None:
                    stats.first_frame_at = time.monotonic()
                if track.kind == "video":
                    stats.width, stats.height = frame.width, frame.height
                    stats.sizes.add((frame.width, frame.height))
        except (MediaStreamError, asyncio.CancelledError):
            pass

    async def publish(
        self, *sources: tuple[str, MediaStreamTrack], codecs: dict | None = None
    ) -> dict[str, str]:
        """Publish (kind label, track) pairs; returns mid -> label. ``codecs`` optionally maps a
        media kind to codec preferences (e.g. H.264 only)."""
        async with self._lock:
            pending = []
            for label, track in sources:
                t = self.pc.addTransceiver(track, direction="sendonly")
                if codecs and track.kind in codecs:
                    t.setCodecPreferences(codecs[track.kind])
                self.tracks.append(track)
                pending.append((t, label))
            await self.pc.setLocalDescription(await self.pc.createOffer())
            labels = {t.mid: label for t, label in pending}
            answer = await self.transport.handle_offer(self.pc.localDescription.sdp, labels)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
            return labels

    async def renegotiate(self) -> None:
        """Server-initiated: take the SFU's offer, answer it."""
        async with self._lock:
            if not self.transport.negotiation_needed or self.transport.closed:
                return
            offer = await self.transport.create_offer()
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.transport.handle_answer(self.pc.localDescription.sdp)
            self.renegotiations += 1

    def stats_for(self, publisher_id: str, kind: str) -> Received | None:
        for info in self.transport.subscriptions():
            if info.publisher_id == publisher_id and info.kind == kind and info.mid in self.received:
                return self.received[info.mid]
        return None

    async def close(self) -> None:
        for task in self._consumers:
            task.cancel()
        await self.pc.close()


class Harness:
    def __init__(self, router: MediaRouter) -> None:
        self.router = router
        self.clients: dict[str, Client] = {}

    async def join(self, peer_id: str) -> Client:
        transport = await self.router.add_peer(peer_id)
        client = Client(peer_id, transport)
        self.clients[peer_id] = client
        return client

    async def full_mesh(self, kinds: tuple[str, ...] = ("video", "audio")) -> None:
        """Subscribe everyone to every other peer's tracks of ``kinds`` and negotiate."""
        for sub in self.clients:
            for pub in self.clients:
                if sub == pub:
                    continue
                for kind in kinds:
                    if (pub, kind) in self.router.producers():
                        self.router.subscribe(sub, pub, kind)
        await self.settle()

    async def settle(self) -> None:
        await asyncio.gather(*(c.renegotiate() for c in self.clients.values()))

    async def close(self) -> None:
        for c in self.clients.values():
            await c.close()
        await self.router.close()


async def wait_for(predicate, seconds: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


# --------------------------------------------------------------------------------------------
# wire taps on the client side (loss injection, sequence recording)


def client_dtls(client: Client):
    return client.pc.getTransceivers()[0].receiver.transport


def tap_incoming_rtp(client: Client, fn) -> None:
    """Call ``fn(plain_rtp_bytes) -> bool`` for each RTP packet the client receives (after
    SRTP); returning False drops the packet as if lost on the wire."""
    dtls = client_dtls(client)
    orig = dtls._handle_rtp_data

    async def handle(data: bytes, arrival_time_ms: int) -> None:
        if fn(data):
            await orig(data, arrival_time_ms)

    dtls._handle_rtp_data = handle


def drop_outgoing_rtp(client: Client, fn) -> None:
    """Call ``fn(plain_rtp_bytes) -> bool`` for each RTP packet the client sends (before SRTP);
    returning False drops it (RTCP is never dropped)."""
    from aiortc.rtp import is_rtcp

    dtls = client_dtls(client)
    orig = dtls._send_rtp

    async def send(data: bytes) -> None:
        if is_rtcp(data) or fn(data):
            await orig(data)

    dtls._send_rtp = send


def count_keyframe_requests(client: Client) -> list[float]:
    """Record when the client's (publisher) video senders are asked for a keyframe."""
    times: list[float] = []
    for t in client.pc.getTransceivers():
        if t.kind == "video" and t.sender.track is not None:
            orig = t.sender._send_keyframe

            def wrapped(orig=orig) -> None:
                times.append(time.monotonic())
                orig()

            t.sender._send_keyframe = wrapped
    return times


def payload_type(client: Client, mime: str) -> set[int]:
    return {
        c.payloadType
        for t in client.pc.getTransceivers()
        for c in t._codecs
        if c.mimeType.lower() == mime.lower()
    }
