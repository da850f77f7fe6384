"""Prometheus metrics of the media plane.

The hot path only bumps plain integer attributes of :data:`COUNTERS` (a ``prometheus_client``
``Counter.inc()`` takes a lock and costs ~1 µs, more than a tenth of the per-packet budget); a
custom collector registered with the default registry exposes them as real Prometheus counters
and gauges at scrape time. Read them in tests with
``prometheus_client.REGISTRY.get_sample_value("rtk_sfu_frames_decoded_total")``.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

if TYPE_CHECKING:
    from .router import MediaRouter


class MediaCounters:
    """Process-wide monotonic counters (plain ints, updated on the event loop thread, except
    ``frames_decoded`` which decoder threads may bump)."""

    __slots__ = (
        "rtp_packets_received",
        "rtp_bytes_received",
        "rtp_packets_forwarded",
        "rtp_bytes_forwarded",
        "rtp_packets_dropped_not_allowed",
        "rtp_packets_dropped_keyframe_wait",
        "rtp_packets_dropped_send_error",
        "rtp_packets_unrouted",
        "srtp_unprotect_failures",
        "nacks_received",
        "nack_misses",
        "rtx_packets_sent",
        "rtx_packets_received",
        "plis_received",
        "plis_sent",
        "keyframes_forwarded",
        "frames_decoded",
        "speaker_changes",
    )

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def snapshot(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


COUNTERS = MediaCounters()

_COUNTER_HELP = {
    "rtp_packets_received": "RTP packets received from publishers (after SRTP)",
    "rtp_bytes_received": "RTP bytes received from publishers (after SRTP)",
    "rtp_packets_forwarded": "RTP packets sent to subscribers (excluding RTX)",
    "rtp_bytes_forwarded": "RTP payload bytes sent to subscribers (excluding RTX)",
    "rtp_packets_dropped_not_allowed": "packets of producers disallowed by the control plane",
    "rtp_packets_dropped_keyframe_wait": "packets not sent because a subscriber waits for a keyframe",
    "rtp_packets_dropped_send_error": "packets the kernel refused (socket buffer full / closed)",
    "rtp_packets_unrouted": "RTP packets on SFU transports that matched no publisher track",
    "srtp_unprotect_failures": "incoming SRTP packets rejected (authentication / replay check)",
    "nacks_received": "sequence numbers NACKed by subscribers",
    "nack_misses": "NACKed packets no longer in the per-subscriber history",
    "rtx_packets_sent": "retransmissions sent to subscribers",
    "rtx_packets_received": "retransmissions received from publishers",
    "plis_received": "PLI/FIR received from subscribers",
    "plis_sent": "PLIs sent upstream to publishers (throttled)",
    "keyframes_forwarded": "keyframe starts at which a subscriber stream (re)started",
    "frames_decoded": "media frames decoded inside the SFU process by SFU-owned receivers (must stay 0)",
    "speaker_changes": "active speaker changes reported",
}

_routers: weakref.WeakSet[MediaRouter] = weakref.WeakSet()
_lock = threading.Lock()


def register_router(router: MediaRouter) -> None:
    with _lock:
        _routers.add(router)


class _MediaCollector:
    def collect(self):
        snap = COUNTERS.snapshot()
        for name, help_text in _COUNTER_HELP.items():
            fam = CounterMetricFamily(f"rtk_sfu_{name}", help_text)
            fam.add_metric([], snap[name])
            yield fam
        with _lock:
            routers = list(_routers)
        loads = [r.load() for r in routers]
        gauges = {
            "peers": ("peers with a media transport", sum(x.peers for x in loads)),
            "published_tracks": ("tracks published to the SFU", sum(x.published_tracks for x in loads)),
            "subscriptions": (
                "forwarded (publisher track, subscriber) pairs",
                sum(x.subscriptions for x in loads),
            ),
            "packets_in_per_second": (
                "RTP packets/s received (last interval)",
                sum(x.packets_in_per_s for x in loads),
            ),
            "packets_out_per_second": (
                "RTP packets/s forwarded (last interval)",
                sum(x.packets_out_per_s for x in loads),
            ),
            "bits_out_per_second": (
                "RTP payload bits/s forwarded (last interval)",
                sum(x.bits_out_per_s for x in loads),
            ),
        }
        for name, (help_text, value) in gauges.items():
            fam = GaugeMetricFamily(f"rtk_sfu_{name}", help_text)
            fam.add_metric([], value)
            yield fam


_COLLECTOR = _MediaCollector()
try:
    REGISTRY.register(_COLLECTOR)
except ValueError:  # pragma: no cover - re-import under a different module name
    pass
