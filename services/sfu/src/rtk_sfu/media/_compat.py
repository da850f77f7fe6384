"""The aiortc internals the media plane relies on, checked once at import (fail fast on upgrade).

aiortc exposes no packet-level API, so the forwarder hooks a handful of private attributes of
aiortc 1.16.0 (see docs/reference aiortc-forwarding.md §5.4). Every one of them is named here.
"""

from __future__ import annotations

import importlib.metadata
import threading
import weakref
from typing import Any

import aiortc.rate as _rate
import aiortc.rtcrtpreceiver as _rtcrtpreceiver
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

from .metrics import COUNTERS

AIORTC_VERSION = "1.16.0"

# instance attributes set by __init__ (checked on the first object we hook)
SENDER_ATTRS = (
    "_ssrc",
    "_rtx_ssrc",
    "_RTCRtpSender__mid",
    "_RTCRtpSender__rtx_payload_type",
    "_RTCRtpSender__ntp_timestamp",
    "_RTCRtpSender__rtp_timestamp",
    "_RTCRtpSender__packet_count",
    "_RTCRtpSender__octet_count",
    "_RTCRtpSender__started",
)
RECEIVER_ATTRS = (
    "_RTCRtpReceiver__codecs",
    "_RTCRtpReceiver__rtx_ssrc",
    "_RTCRtpReceiver__remote_streams",
    "_RTCRtpReceiver__nack_generator",
    "_RTCRtpReceiver__remote_bitrate_estimator",
    "_RTCRtpReceiver__rtcp_ssrc",
)
DTLS_ATTRS = ("_tx_srtp", "_rx_srtp", "_rtp_router", "_rtp_header_extensions_map", "transport")


class AiortcIncompatible(RuntimeError):
    pass


def check_aiortc() -> None:
    version = importlib.metadata.version("aiortc")
    if version != AIORTC_VERSION:
        raise AiortcIncompatible(f"rtk_sfu.media needs aiortc=={AIORTC_VERSION}, found {version}")
    for cls, names in (
        (RTCRtpSender, ("_handle_rtcp_packet", "_retransmit", "_send_keyframe", "send")),
        (RTCRtpReceiver, ("_handle_rtp_packet", "_send_rtcp_pli", "_send_rtcp", "_send_rtcp_nack")),
        (RTCDtlsTransport, ("_handle_rtp_data", "_send_rtp")),
    ):
        for name in names:
            if not hasattr(cls, name):
                raise AiortcIncompatible(f"aiortc {cls.__name__}.{name} is missing")
    if not callable(getattr(_rtcrtpreceiver, "decoder_worker", None)):
        raise AiortcIncompatible("aiortc.rtcrtpreceiver.decoder_worker is missing")
    if not hasattr(_rtcrtpreceiver, "RemoteBitrateEstimator"):
        raise AiortcIncompatible("aiortc.rtcrtpreceiver.RemoteBitrateEstimator is missing")


def check_instance(obj: Any, names: tuple[str, ...]) -> None:
    for name in names:
        if not hasattr(obj, name):
            raise AiortcIncompatible(f"aiortc {type(obj).__name__} has no attribute {name}")


# --- decoder guard --------------------------------------------------------------------------
#
# The forwarder never feeds an SFU receiver's jitter buffer, so its decoder thread should see
# nothing. To *prove* it, the module-global decoder_worker (looked up by RTCRtpReceiver.receive)
# is replaced by a dispatcher: receivers owned by the SFU run the stock decoder with an output
# queue that counts every frame it would deliver (metric frames_decoded) and discards it; every
# other receiver in the process (e.g. test clients) runs the stock decoder unchanged.

_ORIGINAL_DECODER_WORKER = _rtcrtpreceiver.decoder_worker
_sfu_queues: weakref.WeakSet[Any] = weakref.WeakSet()
_sfu_queue_ids: set[int] = set()
_guard_lock = threading.Lock()


async def _discard() -> None:
    return None


class _CountingSink:
    """Stands in for RemoteStreamTrack._queue: counts decoded frames (in the decoder thread, at
    hand-over time), keeps none. ``put`` must return a coroutine: the stock worker passes it to
    ``asyncio.run_coroutine_threadsafe``."""

    def put(self, item: Any) -> Any:
        if item is not None:
            COUNTERS.frames_decoded += 1
        return _discard()


def _dispatch_decoder_worker(loop, input_q, output_q, *rest):  # type: ignore[no-untyped-def]
    with _guard_lock:
        owned = id(output_q) in _sfu_queue_ids
    if owned:
        return _ORIGINAL_DECODER_WORKER(loop, input_q, _CountingSink(), *rest)
    return _ORIGINAL_DECODER_WORKER(loop, input_q, output_q, *rest)


def mark_sfu_receiver(receiver: RTCRtpReceiver) -> None:
    """Route this receiver's decoder thread to the counting sink (call before receive())."""
    track = receiver.track
    if track is None:
        return
    q = track._queue
    with _guard_lock:
        _sfu_queue_ids.add(id(q))
        try:
            _sfu_queues.add(q)
            weakref.finalize(q, _sfu_queue_ids.discard, id(q))
        except TypeError:  # asyncio.Queue is weak-referenceable; be defensive anyway
            pass


# --- lazy receive-side bandwidth estimator ----------------------------------------------------
#
# Every video RTCRtpReceiver builds a RemoteBitrateEstimator in __init__ (a RateCounter of 1000
# one-millisecond buckets: ~0.3 ms of CPU, ~100 kB). Each subscriber m-line of the SFU is a
# sendonly transceiver whose receiver never sees RTP, so a join of a subscriber to N video tracks
# paid N of those for nothing. The estimator is now built on first use; the forwarder resolves it
# once per published track (no indirection on the hot path).

_ORIGINAL_REMOTE_BITRATE_ESTIMATOR = _rate.RemoteBitrateEstimator


class LazyRemoteBitrateEstimator:
    __slots__ = ("_real",)

    def __init__(self) -> None:
        self._real: Any = None

    def resolve(self) -> Any:
        if self._real is None:
            self._real = _ORIGINAL_REMOTE_BITRATE_ESTIMATOR()
        return self._real

    def __getattr__(self, name: str) -> Any:  # e.g. add() from a stock receiver
        return getattr(self.resolve(), name)


def resolve_estimator(receiver: RTCRtpReceiver) -> Any:
    """The receiver's real RemoteBitrateEstimator (None for audio), built if still lazy."""
    est = receiver._RTCRtpReceiver__remote_bitrate_estimator  # type: ignore[attr-defined]
    if isinstance(est, LazyRemoteBitrateEstimator):
        est = est.resolve()
        receiver._RTCRtpReceiver__remote_bitrate_estimator = est  # type: ignore[attr-defined]
    return est


def install_lazy_estimator() -> None:
    _rtcrtpreceiver.RemoteBitrateEstimator = LazyRemoteBitrateEstimator  # type: ignore[misc]


def install_decoder_guard() -> None:
    if _rtcrtpreceiver.decoder_worker is not _dispatch_decoder_worker:
        _rtcrtpreceiver.decoder_worker = _dispatch_decoder_worker


check_aiortc()
install_decoder_guard()
install_lazy_estimator()
