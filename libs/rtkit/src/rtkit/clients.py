"""gRPC client channels between services, with the internal credential attached."""

from __future__ import annotations

import grpc

from rtkit import telemetry

INTERNAL_TOKEN_HEADER = "x-rtk-internal-token"
ACCOUNT_HEADER = "x-rtk-account-id"

_CHANNEL_OPTIONS = [
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.enable_retries", 1),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


def channel(address: str) -> grpc.aio.Channel:
    """An insecure channel (in-cluster traffic; mTLS is the mesh's job) that propagates the trace."""
    return grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS, interceptors=telemetry.CLIENT_INTERCEPTORS)


def internal_metadata(internal_token: str) -> tuple[tuple[str, str], ...]:
    return ((INTERNAL_TOKEN_HEADER, internal_token),)
