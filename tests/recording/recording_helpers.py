"""Helpers for recording tests: synthetic sources (solid colour video, tones), and an in-process
SFU (rtk_sfu.media.MediaRouter) with aiortc publishers and a recorder client, so that the
recorder pipeline sees real RTP → jitter buffer → encoded frames."""

from __future__ import annotations

import asyncio
import fractions
import time
from dataclasses import dataclass, field

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90000


class ColourVideoTrack(MediaStreamTrack):
    """A solid colour (RGB) with a small moving block (so frames differ)."""

    kind = "video"

    def __init__(self, rgb: tuple[int, int, int], width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.rgb, self.width, self.height, self.fps = rgb, width, height, fps
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            delay = self._start + self._n / self.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        img = np.empty((self.height, self.width, 3), np.uint8)
        img[:] = self.rgb
        x = (self._n * 4) % (self.width - 16)
        img[:16, x: x + 16] = 128
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = self._n * (VIDEO_CLOCK // self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._n += 1
        return frame


class ToneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency, self.amplitude = frequency, amplitude
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            delay = self._start + self._n * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        t = (np.arange(960) + self._n * 960) / 48000
        pcm = (self.amplitude * 32767 * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        frame.pts = self._n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self._n += 1
        return frame


@dataclass
class Peer:
    peer_id: str
    transport: object
    pc: RTCPeerConnection
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def publish(self, *sources: tuple[str, MediaStreamTrack]) -> None:
        async with self.lock:
            pending = [(self.pc.addTransceiver(track, direction="sendonly"), label) for label, track in sources]
            await self.pc.setLocalDescription(await self.pc.createOffer())
            labels = {t.mid: label for t, label in pending}
            answer = await self.transport.handle_offer(self.pc.localDescription.sdp, labels)
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def renegotiate(self) -> None:
        async with self.lock:
            if not self.transport.negotiation_needed or self.transport.closed:
                return
            offer = await self.transport.create_offer()
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            await self.transport.handle_answer(self.pc.localDescription.sdp)


class MiniSfu:
    """Publishers and one recorder around an in-process MediaRouter."""

    def __init__(self, router) -> None:
        self.router = router
        self.peers: dict[str, Peer] = {}

    async def join(self, peer_id: str) -> Peer:
        transport = await self.router.add_peer(peer_id)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        peer = Peer(peer_id, transport, pc)
        transport.on_negotiation_needed = lambda _t: asyncio.ensure_future(peer.renegotiate())
        self.peers[peer_id] = peer
        return peer

    async def subscribe(self, subscriber: str, publisher: str, labels=("audio", "video")) -> None:
        for label in labels:
            if (publisher, label) in self.router.producers():
                self.router.subscribe(subscriber, publisher, label)
        await self.peers[subscriber].renegotiate()

    def received(self, subscriber: str) -> list[tuple[str, str, object]]:
        """(publisher id, label, aiortc receiver) of what `subscriber` receives."""
        peer = self.peers[subscriber]
        by_mid = {t.mid: t.receiver for t in peer.pc.getTransceivers()}
        out = []
        for info in peer.transport.subscriptions():
            if info.mid in by_mid:
                out.append((info.publisher_id, info.kind, by_mid[info.mid]))
        return out

    async def close(self) -> None:
        for peer in self.peers.values():
            await peer.pc.close()
        await self.router.close()


async def wait_until(predicate, seconds: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


def dominant_rgb(frame_rgb: np.ndarray, x: int, y: int, r: int = 6) -> tuple[int, int, int]:
    patch = frame_rgb[y - r: y + r, x - r: x + r].reshape(-1, 3)
    return tuple(int(v) for v in np.median(patch, axis=0))


def close_to(rgb: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(rgb, target, strict=True))
