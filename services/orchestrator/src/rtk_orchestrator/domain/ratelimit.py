"""Per-key token buckets (per peer, per replica). RealtimeKit's SDK limits (reference §11.2)."""

from __future__ import annotations

import time


class RateLimiter:
    """At most `count` events per `period` seconds per key (token bucket, burst = count)."""

    def __init__(self, count: int, period: float, *, max_keys: int = 100_000) -> None:
        self._rate = count / period
        self._burst = float(count)
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return False
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._buckets.clear()
        self._buckets[key] = (tokens - 1.0, now)
        return True
