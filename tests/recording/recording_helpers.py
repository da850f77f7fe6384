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
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90000
FRAME_BITS = 12


class ColourVideoTrack(MediaStreamTrack):
    """A solid colour (RGB) with a small moving block (so frames differ) and its frame number
    drawn near the bottom; frame n is produced at `started_wall + n / fps` (wall clock)."""

    kind = "video"

    def __init__(self, rgb: tuple[int, int, int], width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.rgb, self.width, self.height, self.fps = rgb, width, height, fps
        self._n = 0
        self._start: float | None = None
        self.started_wall: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
            self.started_wall = time.time()
        else:
            delay = self._start + self._n / self.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        img = np.empty((self.height, self.width, 3), np.uint8)
        img[:] = self.rgb
        x = (self._n * 4) % (self.width - 16)
        img[:16, x: x + 16] = 128
        for bit in range(FRAME_BITS):  # the frame number, white/black 20 px blocks near the bottom
            img[self.height - 32: self.height - 8, bit * 20: bit * 20 + 20] = 255 if self._n >> bit & 1 else 0
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


def luma(frame_rgb: np.ndarray) -> np.ndarray:
    return frame_rgb[..., 0] * 0.299 + frame_rgb[..., 1] * 0.587 + frame_rgb[..., 2] * 0.114


def corner_stats(frame_rgb: np.ndarray, x: int, y: int, w: int, h: int) -> dict[str, int]:
    """Dark and bright pixels in the bottom-left and bottom-right corners (bottom sixth, 40 % of
    the width) of the tile at (x, y) of size w×h, relative to the bottom-right corner's median
    luma (where no name label is): what a viewer sees as a dark band with white text."""
    zh, zw = max(24, h // 6), w * 2 // 5
    left = luma(frame_rgb[y + h - zh: y + h, x: x + zw].astype(np.float32))
    right = luma(frame_rgb[y + h - zh: y + h, x + w - zw: x + w].astype(np.float32))
    ref = float(np.median(right))

    def dark(a: np.ndarray) -> int:
        return int(np.count_nonzero(a < min(ref * 0.6, ref - 15)))

    def bright(a: np.ndarray) -> int:
        return int(np.count_nonzero(a > max(170.0, ref + 60)))

    return {"ref": round(ref), "dark_left": dark(left), "bright_left": bright(left),
            "dark_right": dark(right), "bright_right": bright(right)}


def frame_number(frame_rgb: np.ndarray) -> int:
    """The source frame number drawn by ColourVideoTrack (a frame at its source size)."""
    height = frame_rgb.shape[0]
    n = 0
    for bit in range(FRAME_BITS):
        if frame_rgb[height - 24: height - 16, bit * 20 + 6: bit * 20 + 14].mean() > 128:
            n |= 1 << bit
    return n


# -- end-to-end: REST as the bootstrap account, SDK peers, a webhook receiver ----------------------
class RecApi:
    """REST calls of the recording tests and SDK peers publishing synthetic media."""

    def __init__(self, stack) -> None:
        import httpx

        self.stack = stack
        # No keep-alive: the tests idle for seconds between calls, and a connection the gateway
        # closes as idle just as it is reused fails the next call (ReadError).
        self.http = httpx.AsyncClient(base_url=stack.gateway_url, timeout=30,
                                      headers={"Authorization": f"Bearer {stack.api_token}"},
                                      limits=httpx.Limits(max_keepalive_connections=0))
        self.clients: list = []

    async def close(self) -> None:
        await self.http.aclose()

    async def call(self, method: str, path: str, **kwargs):
        """(status, body) of `{base}{path}`."""
        response = await self.http.request(method, self.stack.base + path, **kwargs)
        return response.status_code, response.json()

    async def ok(self, method: str, path: str, **kwargs):
        status, body = await self.call(method, path, **kwargs)
        assert status < 300, (method, path, status, body)
        return body["data"]

    async def meeting(self, **fields) -> str:
        return (await self.ok("POST", "/meetings", json={"title": "recording test", **fields}))["id"]

    async def token(self, meeting_id: str, name: str) -> str:
        body = {"name": name, "preset_name": "group_call_participant",
                "custom_participant_id": f"cp-{name}-{time.monotonic_ns()}"}
        return (await self.ok("POST", f"/meetings/{meeting_id}/participants", json=body))["token"]

    async def peer(self, meeting_id: str, name: str, rgb=None, tone: float | None = None, *, join: bool = True):
        """An SDK client in the meeting publishing a colour video (and a tone) when given."""
        from realtimekit import RealtimeKitClient

        client = await RealtimeKitClient.init(auth_token=await self.token(meeting_id, name),
                                              base_url=self.stack.gateway_url, display_name=name)
        self.clients.append(client)
        if join:
            await client.join()
            if rgb is not None:
                await client.self.enable_video(ColourVideoTrack(rgb, fps=10))
            if tone is not None:
                await client.self.enable_audio(ToneTrack(tone))
        return client

    async def recording(self, recording_id: str):
        return await self.ok("GET", f"/recordings/{recording_id}")

    async def until_status(self, recording_id: str, *statuses: str, within: float = 60.0):
        deadline = time.monotonic() + within
        while True:
            rec = await self.recording(recording_id)
            if rec["status"] in statuses:
                return rec
            assert time.monotonic() < deadline, f"recording {recording_id} still {rec['status']}: {rec}"
            await asyncio.sleep(0.1)

    async def download(self, url: str, target) -> bytes:
        import httpx

        async with httpx.AsyncClient(timeout=30) as anonymous:  # the signed link is the credential
            response = await anonymous.get(url)
        assert response.status_code == 200, (url, response.status_code, response.text[:300])
        target.write_bytes(response.content)
        return response.content


@dataclass
class Hook:
    body: dict
    rtk_uuid: str


class WebhookReceiver:
    """An aiohttp server on 127.0.0.1 collecting webhook POSTs (answered 200)."""

    def __init__(self) -> None:
        self.hits: list[Hook] = []
        self.url = ""
        self._runner = None

    async def start(self) -> WebhookReceiver:
        import orjson
        from aiohttp import web

        async def handle(request: web.Request) -> web.Response:
            self.hits.append(Hook(orjson.loads(await request.read()), request.headers.get("rtk-uuid", "")))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/{tail:.*}", handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def statuses(self, recording_id: str) -> list[str]:
        seen: dict[str, str] = {}
        for hit in self.hits:  # at-least-once: de-duplicate on rtk-uuid
            if hit.body.get("recording", {}).get("id") == recording_id:
                seen.setdefault(hit.rtk_uuid, hit.body["recording"]["status"])
        return list(seen.values())

    def last(self, recording_id: str, status: str) -> dict:
        return next(h.body for h in reversed(self.hits)
                    if h.body["recording"]["id"] == recording_id and h.body["recording"]["status"] == status)
