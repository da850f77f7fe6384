"""Encoded frames from an aiortc receiver, before (and usually instead of) decoding.

aiortc reassembles RTP packets into encoded frames in the receiver's jitter buffer and hands
them to a decoder thread. `EncodedTap` wraps that jitter buffer: every completed frame goes to a
sink with its codec, RTP timestamp and keyframe flag, and — unless `decode=True` — is not
decoded at all, so recording a track costs no codec work in the recorder's event loop.

aiortc 1.16 has no public API for this; the private names used are checked in `check()`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpReceiver

_JB = "_RTCRtpReceiver__jitter_buffer"
_CODECS = "_RTCRtpReceiver__codecs"


@dataclass(slots=True)
class EncodedFrame:
    codec: str  # lower-case: "opus", "vp8", "h264"
    clock_rate: int
    timestamp: int  # RTP timestamp, unwrapped to 64 bits
    data: bytes
    keyframe: bool
    ssrc: int
    arrival: float  # time.monotonic()


def is_keyframe(codec: str, data: bytes) -> bool:
    if codec == "opus" or not data:
        return codec == "opus"
    if codec == "vp8":
        return not (data[0] & 0x01)  # VP8 frame tag: P bit 0 = key frame (RFC 6386 §9.1)
    if codec == "h264":
        i, n = 0, len(data)
        while i + 3 < n:  # Annex B start codes from aiortc's depayloader
            if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
                nal = data[i + 3] & 0x1F
                if nal in (5, 7):  # IDR slice or SPS
                    return True
                i += 3
            else:
                i += 1
        return False
    return False


def check(receiver: RTCRtpReceiver) -> None:
    for name in (_JB, _CODECS):
        if not hasattr(receiver, name):
            raise RuntimeError(f"aiortc receiver lacks {name}: the recorder needs aiortc 1.16")


class _TapJitterBuffer:
    def __init__(self, inner: Any, tap: EncodedTap) -> None:
        self._inner = inner
        self._tap = tap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def add(self, packet: Any) -> tuple[bool, Any]:
        pli, frame = self._inner.add(packet)
        if frame is not None:
            self._tap._frame(packet, frame)
            if not self._tap.decode:
                frame = None
        return pli, frame


class EncodedTap:
    """Installs itself on `receiver`; `sink(frame)` runs on the event loop for every frame."""

    def __init__(self, receiver: RTCRtpReceiver, sink: Callable[[EncodedFrame], None], *, decode: bool = False) -> None:
        check(receiver)
        self.receiver = receiver
        self.sink = sink
        self.decode = decode
        self.frames = 0
        self.last_ssrc: int | None = None
        self._ext: int | None = None
        current = getattr(receiver, _JB)
        if isinstance(current, _TapJitterBuffer):  # re-tapped after renegotiation
            current._tap.sink = lambda _f: None
            current = current._inner
        setattr(receiver, _JB, _TapJitterBuffer(current, self))

    def detach(self) -> None:
        current = getattr(self.receiver, _JB)
        if isinstance(current, _TapJitterBuffer) and current._tap is self:
            setattr(self.receiver, _JB, current._inner)
        self.sink = lambda _f: None

    def _unwrap(self, ts: int) -> int:
        if self._ext is None:
            self._ext = ts
        else:
            delta = (ts - self._ext) & 0xFFFFFFFF
            if delta >= 0x80000000:  # older than the previous frame, or a backwards jump
                delta -= 1 << 32
            self._ext += delta
        return self._ext

    def _frame(self, packet: Any, frame: Any) -> None:
        codec = getattr(self.receiver, _CODECS).get(packet.payload_type)
        if codec is None:
            return
        name = codec.name.lower()
        self.frames += 1
        self.last_ssrc = packet.ssrc
        data = bytes(frame.data)
        self.sink(EncodedFrame(codec=name, clock_rate=codec.clockRate, timestamp=self._unwrap(frame.timestamp),
                               data=data, keyframe=is_keyframe(name, data), ssrc=packet.ssrc,
                               arrival=time.monotonic()))

    def request_keyframe(self) -> None:
        """Send a PLI to the sender (the SFU forwards it to the publisher)."""
        if self.last_ssrc is None:
            return
        try:
            asyncio.get_running_loop().create_task(self.receiver._send_rtcp_pli(self.last_ssrc))
        except RuntimeError:
            pass
