"""Synthetic media sources for headless clients: a moving test pattern and a tone.

`meeting.self.enable_video()` / `enable_audio()` without a track publish these. Frames are
prepared once (yuv420p, the encoder's format) and cycled, so producing one costs next to
nothing; timestamps come from a monotonic clock so that they keep increasing when a published
track is replaced.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020

_BARS = np.array(
    [[235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16], [235, 16, 235], [235, 16, 16], [16, 16, 235]],
    dtype=np.uint8,
)


class TestPatternVideoTrack(MediaStreamTrack):
    """Colour bars scrolling sideways plus a bouncing block (every frame differs, so the encoder
    does real inter-frame work). `width`×`height` at `fps`; `distinct` frames are prepared and
    cycled."""

    kind = "video"

    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0, *, distinct: int = 30,
                 seed: int = 0) -> None:
        super().__init__()
        self.width, self.height, self.fps = int(width), int(height), float(fps)
        self._frames = [self._render(n, seed) for n in range(max(1, distinct))]
        self._n = 0
        self._start: float | None = None

    def _render(self, n: int, seed: int) -> av.VideoFrame:
        w, h = self.width, self.height
        cols = (np.arange(w * 2) * len(_BARS) // max(1, w)) % len(_BARS)
        strip = _BARS[cols][None, :, :]
        shift = (n * 8 + seed * 37) % w
        img = np.ascontiguousarray(np.broadcast_to(strip[:, shift : shift + w], (h, w, 3)))
        size = max(8, h // 5)
        x = int((w - size) * (0.5 + 0.5 * math.sin(n / 4.7 + seed)))
        y = int((h - size) * (0.5 + 0.5 * math.cos(n / 3.1 + seed)))
        img[y : y + size, x : x + size] = (n * 23 + seed * 50) % 256
        return av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            delay = self._start + self._n / self.fps - now
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:  # fell far behind (suspended loop): do not burst to catch up
                self._start = now - self._n / self.fps
        frame = self._frames[self._n % len(self._frames)]
        self._n += 1
        frame.pts = int(time.monotonic() * VIDEO_CLOCK)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A sine tone, 20 ms frames of 48 kHz mono s16; `amplitude` 0 … 1 (0 = silence)."""

    kind = "audio"

    def __init__(self, frequency: float = 440.0, amplitude: float = 0.3) -> None:
        super().__init__()
        self.samples = int(AUDIO_PTIME * AUDIO_RATE)
        # one second of samples: a whole number of periods for integer frequencies
        t = np.arange(AUDIO_RATE) / AUDIO_RATE
        self._pcm = (amplitude * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
        self._n = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            delay = self._start + self._n * AUDIO_PTIME - now
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                self._start = now - self._n * AUDIO_PTIME
        offset = (self._n * self.samples) % AUDIO_RATE
        chunk = self._pcm[offset : offset + self.samples]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._n * self.samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._n += 1
        return frame
