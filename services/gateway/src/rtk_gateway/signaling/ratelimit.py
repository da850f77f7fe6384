"""Per-connection token buckets (limits.RATES); pure, clock injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable

from rtk_gateway.signaling.limits import Rate
from rtk_gateway.signaling.messages import RateLimited


class _Bucket:
    __slots__ = ("rate", "tokens", "updated")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = rate.burst
        self.updated = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.rate.burst, self.tokens + (now - self.updated) * self.rate.per_second)
        self.updated = now

    def retry_after_ms(self) -> int:
        return max(1, int((1 - self.tokens) / self.rate.per_second * 1000) + 1)


class RateLimiter:
    """`take(kind)` spends one token from the kind's bucket and from the `*` bucket."""

    def __init__(self, rates: dict[str, Rate], clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        now = clock()
        self._buckets = {kind: _Bucket(rate, now) for kind, rate in rates.items()}

    def take(self, kind: str) -> RateLimited | None:
        now = self._clock()
        named = [(name, self._buckets[name]) for name in (kind, "*") if name in self._buckets]
        for _, bucket in named:
            bucket.refill(now)
        for name, bucket in named:
            if bucket.tokens < 1:
                return RateLimited(kind if name != "*" else "all", bucket.retry_after_ms())
        for _, bucket in named:
            bucket.tokens -= 1
        return None
