"""Session → node pins, shared by the gateway replicas.

NATS KV bucket `realtime_room_placement`, key = session id, value = a serialized
realtime.gateway.v1.Placement. Writes are compare-and-set (create only if absent, update only at
the revision read), so replicas that race on the same session agree on one node. When KV is
unavailable the pins live in this process's memory (a single replica stays consistent).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from realtime.gateway.v1 import placement_pb2
from rtkit.logging import get_logger

log = get_logger("rtk_gateway.placement")

BUCKET = "realtime_room_placement"
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_=/-]")


def pin_key(session_id: str) -> str:
    """KV keys allow [-/_=.a-zA-Z0-9]; dots are subject separators, so they are replaced too."""
    key = _KEY_UNSAFE.sub("_", session_id)
    if not key:
        raise ValueError("empty session id")
    return key


@dataclass(frozen=True, slots=True)
class Pin:
    placement: placement_pb2.Placement
    revision: int
    origin: str = "memory"  # which store answered: "kv" or "memory"


class PinStore(Protocol):
    async def get(self, session_id: str) -> Pin | None: ...

    async def create(self, session_id: str, placement: placement_pb2.Placement) -> bool:
        """Store if no pin exists; False when another writer got there first."""

    async def replace(self, session_id: str, placement: placement_pb2.Placement, expected: Pin) -> bool:
        """Store if the pin is still `expected` (same revision); False when it changed meanwhile."""

    async def delete(self, session_id: str) -> None: ...


class MemoryPinStore:
    """Pins in this process (tests, single replica, or KV unavailable)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._pins: dict[str, Pin] = {}
        self._revision = 0
        self._max = max_entries

    async def get(self, session_id: str) -> Pin | None:
        return self._pins.get(pin_key(session_id))

    def _put(self, key: str, placement: placement_pb2.Placement) -> None:
        if len(self._pins) >= self._max and key not in self._pins:
            self._pins.pop(next(iter(self._pins)))  # oldest first (dicts keep insertion order)
        self._revision += 1
        self._pins[key] = Pin(placement, self._revision)

    async def create(self, session_id: str, placement: placement_pb2.Placement) -> bool:
        key = pin_key(session_id)
        if key in self._pins:
            return False
        self._put(key, placement)
        return True

    async def replace(self, session_id: str, placement: placement_pb2.Placement, expected: Pin) -> bool:
        key = pin_key(session_id)
        current = self._pins.get(key)
        if current is None or current.revision != expected.revision:
            return False
        self._put(key, placement)
        return True

    async def delete(self, session_id: str) -> None:
        self._pins.pop(pin_key(session_id), None)


class KvPinStore:
    """Pins in the NATS KV bucket `realtime_room_placement` (created if missing)."""

    def __init__(self, kv) -> None:  # noqa: ANN001 - nats.js.kv.KeyValue
        self._kv = kv

    @classmethod
    async def open(cls, js: JetStreamContext, *, ttl_seconds: float, bucket: str = BUCKET) -> KvPinStore:
        try:
            kv = await js.key_value(bucket)
        except BucketNotFoundError:
            try:
                kv = await js.create_key_value(
                    KeyValueConfig(bucket=bucket, history=1, ttl=ttl_seconds, storage=StorageType.FILE,
                                   description="session id -> SFU placement (realtime.gateway.v1.Placement)")
                )
            except Exception:  # noqa: BLE001 - another replica created it meanwhile
                kv = await js.key_value(bucket)
        return cls(kv)

    async def get(self, session_id: str) -> Pin | None:
        try:
            entry = await self._kv.get(pin_key(session_id))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        return Pin(placement_pb2.Placement.FromString(entry.value), entry.revision, "kv")

    async def create(self, session_id: str, placement: placement_pb2.Placement) -> bool:
        try:
            await self._kv.create(pin_key(session_id), placement.SerializeToString())
        except KeyWrongLastSequenceError:
            return False
        return True

    async def replace(self, session_id: str, placement: placement_pb2.Placement, expected: Pin) -> bool:
        try:
            await self._kv.update(pin_key(session_id), placement.SerializeToString(), last=expected.revision)
        except KeyWrongLastSequenceError:
            return False
        return True

    async def delete(self, session_id: str) -> None:
        try:
            await self._kv.delete(pin_key(session_id))
        except KeyNotFoundError:
            pass


_UNAVAILABLE = (nats.errors.Error, TimeoutError, ConnectionError, OSError)


class FallbackPinStore:
    """KV first; on a NATS/JetStream failure the in-memory store answers (logged once per outage).

    Without a primary store (KV could not be opened at start), `reopen` is retried at most every
    `reopen_interval` seconds, so pins become shared again once JetStream is back."""

    def __init__(
        self,
        primary: PinStore | None,
        fallback: MemoryPinStore | None = None,
        *,
        reopen: Callable[[], Awaitable[PinStore]] | None = None,
        reopen_interval: float = 10.0,
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryPinStore()
        self._degraded = primary is None
        self._reopen = reopen
        self._reopen_interval = reopen_interval
        self._next_reopen = 0.0

    async def connect(self, opener: Callable[[], Awaitable[PinStore]]) -> bool:
        """Open the shared store now (True on success); on failure keep retrying every
        `reopen_interval` seconds on use."""
        self._reopen = opener
        self._next_reopen = time.monotonic() + self._reopen_interval
        try:
            self.primary = await opener()
        except Exception as exc:  # noqa: BLE001 - JetStream unavailable: pins in memory
            log.warning("placement_pins_in_memory", reason=str(exc) or type(exc).__name__)
            return False
        self._degraded = False
        return True

    async def _ensure_primary(self) -> None:
        if self.primary is not None or self._reopen is None or time.monotonic() < self._next_reopen:
            return
        self._next_reopen = time.monotonic() + self._reopen_interval
        try:
            self.primary = await self._reopen()
        except Exception as exc:  # noqa: BLE001 - still unavailable
            log.debug("placement_kv_reopen_failed", error=str(exc) or type(exc).__name__)
        else:
            log.info("placement_pins_shared_again")
            self._degraded = False

    @property
    def degraded(self) -> bool:
        return self._degraded

    def _failed(self, exc: BaseException) -> None:
        if not self._degraded:
            log.warning("placement_pins_in_memory", reason=str(exc) or type(exc).__name__)
        self._degraded = True

    def _ok(self) -> None:
        if self._degraded and self.primary is not None:
            log.info("placement_pins_shared_again")
        self._degraded = self.primary is None

    async def get(self, session_id: str) -> Pin | None:
        await self._ensure_primary()
        if self.primary is not None:
            try:
                pin = await self.primary.get(session_id)
            except _UNAVAILABLE as exc:
                self._failed(exc)
            else:
                self._ok()
                return pin
        return await self.fallback.get(session_id)

    async def create(self, session_id: str, placement: placement_pb2.Placement) -> bool:
        await self._ensure_primary()
        if self.primary is not None:
            try:
                created = await self.primary.create(session_id, placement)
            except _UNAVAILABLE as exc:
                self._failed(exc)
            else:
                self._ok()
                return created
        return await self.fallback.create(session_id, placement)

    async def replace(self, session_id: str, placement: placement_pb2.Placement, expected: Pin) -> bool:
        await self._ensure_primary()
        if self.primary is not None and expected.origin == "kv":
            try:
                replaced = await self.primary.replace(session_id, placement, expected)
            except _UNAVAILABLE as exc:
                self._failed(exc)
            else:
                self._ok()
                return replaced
        current = await self.fallback.get(session_id)
        if current is None:
            return await self.fallback.create(session_id, placement)
        if expected.origin == "memory":
            return await self.fallback.replace(session_id, placement, expected)
        # the expected pin came from KV, which is gone now: the memory copy is all there is
        return await self.fallback.replace(session_id, placement, current)

    async def delete(self, session_id: str) -> None:
        await self.fallback.delete(session_id)
        if self.primary is not None:
            try:
                await self.primary.delete(session_id)
            except _UNAVAILABLE as exc:
                self._failed(exc)
