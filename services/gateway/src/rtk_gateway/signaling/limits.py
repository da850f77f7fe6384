"""Protocol limits of the signaling relay (documented in docs/signaling.md)."""

from __future__ import annotations

from dataclasses import dataclass

# Largest accepted client message (WebSocket text frame, or serialized ClientMessage on gRPC).
# Larger frames get an Error and the connection stays usable; frames above the WebSocket
# server's hard limit (MAX_FRAME_BYTES) close the connection (1009).
MAX_MESSAGE_BYTES = 64 * 1024
MAX_FRAME_BYTES = 1024 * 1024
MAX_REQUEST_ID_CHARS = 128

# Seconds a connection may stay silent before a successful `join` (heartbeats keep it open).
JOIN_TIMEOUT_SECONDS = 30.0
# When JoinResponse does not say otherwise.
DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 10
# A joined connection silent for this many heartbeat intervals is treated as lost.
HEARTBEAT_MISSES = 3


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket: `burst` messages at once, refilled at `per_second`."""

    burst: float
    per_second: float


# Flood protection per connection. The product's per-participant limits (reference §11.2:
# broadcastMessage 5/s, sendTextMessage 180/min) are enforced by the orchestrator, per peer,
# so that they survive reconnects; the relay only caps the message rate and the read-heavy
# requests that cost a database query each.
RATES: dict[str, Rate] = {
    "*": Rate(burst=100, per_second=50),  # every message together
    "chat_fetch": Rate(burst=10, per_second=2),
    "sync": Rate(burst=5, per_second=1),
    "waiting_room_list": Rate(burst=10, per_second=2),
    "stage_request_list": Rate(burst=10, per_second=2),
    # media: each costs an SDP negotiation on the SFU
    "media_offer": Rate(burst=20, per_second=5),
    "media_answer": Rate(burst=50, per_second=10),
    "media_subscribe": Rate(burst=20, per_second=5),
}
