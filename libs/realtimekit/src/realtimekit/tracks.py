"""Tracks of the media module.

`RemoteTrack` — a remote participant's audio, video or screen share as this client decodes it
(`participant.video_track`, …). aiortc decodes every received frame whether or not anybody
reads it, so the SDK reads them all, counts them (`frames_decoded`, `width`, `height`,
`first_frame_at`) and keeps the latest few for `await track.recv()`.

`OutgoingTrack` — what the SDK attaches to a sender: a switch in front of the application's
track, so that a published kind can be turned off and on again (another track, same m-line)
without the sender ever seeing its source end, and with timestamps that keep increasing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90_000


class RemoteTrack(MediaStreamTrack):
    """A received track. `kind` is the WebRTC kind (`audio` / `video`); `track_kind` the
    RealtimeKit kind (`audio`, `video`, `screenshare`, `screenshareAudio`); `peer_id` the
    publisher."""

    def __init__(self, kind: str, peer_id: str, track_kind: str, mid: str, *, buffer: int = 4) -> None:
        super().__init__()
        self.kind = kind
        self.peer_id = peer_id
        self.track_kind = track_kind
        self.mid = mid
        self.frames_decoded = 0
        self.width = 0
        self.height = 0
        self.attached_at = time.monotonic()
        self.first_frame_at: float | None = None
        self.last_frame_at: float | None = None
        self._buffer: asyncio.Queue[Any] = asyncio.Queue(maxsize=max(1, buffer))
        self._progress = asyncio.Event()

    async def recv(self) -> Any:
        """The next decoded frame (av.VideoFrame / av.AudioFrame); older ones are dropped when
        the application reads slower than frames arrive."""
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._buffer.get()
        if frame is None:
            raise MediaStreamError
        return frame

    async def wait_for_frames(self, count: int = 1, timeout: float | None = 10.0) -> int:  # noqa: ASYNC109
        """Wait until at least `count` frames were decoded; returns the number decoded."""

        async def _wait() -> int:
            while self.frames_decoded < count:
                if self.readyState != "live":
                    raise MediaStreamError(f"track of {self.peer_id} ended after {self.frames_decoded} frames")
                self._progress.clear()
                await self._progress.wait()
            return self.frames_decoded

        return await asyncio.wait_for(_wait(), timeout)

    def _deliver(self, frame: Any) -> None:
        now = time.monotonic()
        self.frames_decoded += 1
        if self.first_frame_at is None:
            self.first_frame_at = now
        self.last_frame_at = now
        if self.kind == "video":
            self.width, self.height = frame.width, frame.height
        if self._buffer.full():
            with contextlib.suppress(asyncio.QueueEmpty):
                self._buffer.get_nowait()
        self._buffer.put_nowait(frame)
        self._progress.set()

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            if self._buffer.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._buffer.get_nowait()
            self._buffer.put_nowait(None)
            self._progress.set()

    def stats(self) -> dict[str, Any]:
        return {"peer_id": self.peer_id, "kind": self.track_kind, "mid": self.mid,
                "frames_decoded": self.frames_decoded, "width": self.width, "height": self.height,
                "first_frame_at": self.first_frame_at}

    def __repr__(self) -> str:
        return (f"RemoteTrack({self.track_kind} of {self.peer_id}, frames={self.frames_decoded}, "
                f"{self.width}x{self.height})")


class OutgoingTrack(MediaStreamTrack):
    """The sender's track: forwards frames of `source` (None = nothing is sent, the sender
    waits), re-stamped on one clock per kind."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        self.source: MediaStreamTrack | None = None
        self._changed = asyncio.Event()
        self._samples = 0  # audio clock

    def set_source(self, source: MediaStreamTrack | None) -> None:
        self.source = source
        self._changed.set()

    async def recv(self) -> Any:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self.source
            if source is None or source.readyState != "live":
                self._changed.clear()
                await self._changed.wait()
                continue
            self._changed.clear()
            pending = asyncio.ensure_future(source.recv())
            switched = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({pending, switched}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                switched.cancel()
            if not pending.done():  # the source was replaced (or removed): drop its frame
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pending
                continue
            try:
                frame = pending.result()
            except MediaStreamError:  # the application ended its track: wait for another one
                if self.source is source:
                    self.source = None
                continue
            return self._stamp(frame)

    def _stamp(self, frame: Any) -> Any:
        if self.kind == "video":
            frame.pts = int(time.monotonic() * VIDEO_CLOCK)
            frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        else:
            rate = getattr(frame, "sample_rate", 0) or 48_000
            frame.pts = self._samples
            frame.time_base = fractions.Fraction(1, rate)
            self._samples += frame.samples
        return frame

    def stop(self) -> None:
        super().stop()
        self._changed.set()
