"""Prometheus metrics shared by every service (served on RTK_METRICS_PORT)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

GRPC_REQUESTS = Counter(
    "rtk_grpc_server_requests_total", "gRPC requests handled", ["service", "method", "code"]
)
GRPC_LATENCY = Histogram(
    "rtk_grpc_server_latency_seconds",
    "gRPC handler latency",
    ["service", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter("rtk_events_published_total", "Events published to NATS", ["subject_kind"])
GROUP_COMMIT_BATCH = Histogram(
    "rtk_group_commit_batch_size",
    "Items per flush of a group-commit batcher (rtkit.batching)",
    ["name"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
OUTBOX_RELAYED = Counter("rtk_outbox_relayed_total", "Outbox events published to JetStream (rtkit.outbox)", ["schema"])
OUTBOX_DRAIN_FAILURES = Counter(
    "rtk_outbox_drain_failures_total", "Outbox drains that failed (NATS or Postgres away); the rows wait", ["schema"]
)
OUTBOX_OLDEST_PENDING = Gauge(
    "rtk_outbox_oldest_pending_seconds",
    "Age of the oldest event waiting in the outbox as of the relay's last look (0: none); alert when it grows",
    ["schema"],
)
DB_UNAVAILABLE = Counter("rtk_db_unavailable_total", "Requests failed because Postgres was unreachable")


def serve(port: int, host: str = "0.0.0.0") -> None:
    """Expose /metrics on a background thread (prometheus-client's own server)."""
    if port:
        start_http_server(port, addr=host)
