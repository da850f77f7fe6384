"""Live load of the node for its heartbeats.

`LoadSource` is what the heartbeat publisher and the drain wait read. Until the media engine is
wired, `ProcessLoadSource` reports the process's CPU and zero peers; `MediaLoadSource` adapts the
media engine (`rtk_sfu.media.MediaRouter.load()`), adding the same CPU figure.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class NodeLoad:
    """Mirror of realtime.sfu.v1.NodeLoad."""

    peers: int = 0
    tracks: int = 0
    packets_per_second: float = 0.0
    cpu_percent: float = 0.0


@runtime_checkable
class LoadSource(Protocol):
    """Anything that can tell the node's current load (called every heartbeat, on the event loop;
    must be cheap and must not block)."""

    def load(self) -> NodeLoad: ...


class CpuMeter:
    """CPU of this process since the previous call, percent of one core (psutil when installed,
    else the same figure from `time.process_time`)."""

    def __init__(self) -> None:
        self._proc: Any = None
        try:
            import psutil

            self._proc = psutil.Process(os.getpid())
            self._proc.cpu_percent(None)  # the first call only sets the baseline
        except Exception:  # noqa: BLE001 - psutil missing or unsupported: fall back
            self._proc = None
        self._mark = (time.monotonic(), time.process_time())

    def percent(self) -> float:
        if self._proc is not None:
            try:
                return round(float(self._proc.cpu_percent(None)), 1)
            except Exception:  # noqa: BLE001
                self._proc = None
        now, cpu = time.monotonic(), time.process_time()
        wall, used = now - self._mark[0], cpu - self._mark[1]
        self._mark = (now, cpu)
        return round(100.0 * used / wall, 1) if wall > 0 else 0.0


class ProcessLoadSource:
    """Process-level load: CPU only, no media (zero peers, tracks and packets)."""

    def __init__(self) -> None:
        self._cpu = CpuMeter()

    def load(self) -> NodeLoad:
        return NodeLoad(cpu_percent=self._cpu.percent())


class MediaLoadSource:
    """Adapter for the media engine: `router.load()` returns `rtk_sfu.media.MediaLoad`
    (peers, published_tracks, packets_out_per_s, …). packets_per_second is the forwarded
    (outgoing) rate, the budget of aiortc-forwarding.md §6.5."""

    def __init__(self, router: Any) -> None:
        self._router = router
        self._cpu = CpuMeter()

    def load(self) -> NodeLoad:
        media = self._router.load()
        return NodeLoad(
            peers=int(media.peers),
            tracks=int(getattr(media, "published_tracks", 0)),
            packets_per_second=round(float(getattr(media, "packets_out_per_s", 0.0)), 1),
            cpu_percent=self._cpu.percent(),
        )
