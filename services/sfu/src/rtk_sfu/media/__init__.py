"""SFU media plane: RTP-level forwarding on aiortc 1.16 without decoding.

Knows peers, published tracks and subscriptions; knows nothing of rooms or signaling.
"""

from ._compat import AIORTC_VERSION, AiortcIncompatible
from .forwarder import Egress, IngressTrack
from .ice import IceConfig
from .metrics import COUNTERS, MediaCounters
from .router import (
    MEDIA_KIND,
    TRACK_KINDS,
    MediaConfig,
    MediaError,
    MediaLoad,
    MediaRouter,
    ParkedTrack,
    PeerTransport,
    Subscription,
    TrackInfo,
)

__all__ = [
    "AIORTC_VERSION",
    "AiortcIncompatible",
    "COUNTERS",
    "Egress",
    "IceConfig",
    "IngressTrack",
    "MEDIA_KIND",
    "MediaConfig",
    "MediaCounters",
    "MediaError",
    "MediaLoad",
    "MediaRouter",
    "ParkedTrack",
    "PeerTransport",
    "Subscription",
    "TRACK_KINDS",
    "TrackInfo",
]
