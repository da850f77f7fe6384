"""The recording timeline: seconds of recorded media, paused intervals removed.

Every file of a recording is timestamped on this one clock, so tracks stay in sync with each
other and a pause leaves neither a frozen nor a silent gap: while paused the clock stands still
and media is dropped; after `resume()` it continues from where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RecordingClock:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._origin: float | None = None
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self.epoch = 0  # incremented at every resume: media anchors taken before are stale

    @property
    def started(self) -> bool:
        return self._origin is not None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None

    def start(self) -> None:
        if self._origin is None:
            self._origin = self._now()

    def pause(self) -> None:
        if self._origin is not None and self._paused_at is None:
            self._paused_at = self._now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._paused_total += self._now() - self._paused_at
            self._paused_at = None
            self.epoch += 1

    def position(self) -> float:
        """Recorded seconds so far (constant while paused)."""
        if self._origin is None:
            return 0.0
        end = self._paused_at if self._paused_at is not None else self._now()
        return max(0.0, end - self._origin - self._paused_total)
