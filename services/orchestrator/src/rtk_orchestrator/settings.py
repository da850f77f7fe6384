"""Orchestrator settings (`RTK_*` environment variables, see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field
from rtkit.config import ServiceSettings


class OrchestratorSettings(ServiceSettings):
    """Settings of `python -m rtk_orchestrator`."""

    service_name: str = Field(default="orchestrator", description="Name used in logs, traces and metrics.")
    grpc_port: int = Field(default=50053, description="gRPC port (peers use RTK_ORCHESTRATOR_ADDR).")
    orchestrator_heartbeat_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often a peer's transport must send a heartbeat."
    )
    orchestrator_heartbeat_misses: int = Field(
        default=3, ge=1, description="Missed heartbeats after which a peer counts as disconnected."
    )
    orchestrator_resume_window_seconds: float = Field(
        default=30.0, ge=0, description="A disconnected peer may resume (same peer id) within this window."
    )
    orchestrator_default_keep_alive_seconds: int = Field(
        default=60, ge=0, description="Session keep-alive when the meeting does not set session_keep_alive_time_in_secs."
    )
    orchestrator_reaper_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often stale peers and empty sessions are looked for."
    )
    orchestrator_preset_cache_seconds: float = Field(
        default=10.0, ge=0, description="How long presets fetched from the meeting service are cached."
    )
    orchestrator_broadcast_per_second: int = Field(
        default=5, ge=1, description="broadcastMessage rate limit per peer (RealtimeKit: 5/s)."
    )
    orchestrator_chat_per_minute: int = Field(
        default=180, ge=1, description="Chat messages per peer per minute (RealtimeKit: 180/min)."
    )
    orchestrator_chat_history_on_join: int = Field(
        default=100, ge=0, description="Latest chat messages included in a JoinResponse."
    )
    orchestrator_export_url_ttl_seconds: int = Field(
        default=3600, gt=0, description="Lifetime of chat export download URLs."
    )
    orchestrator_export_signing_key: str = Field(
        default="", description="HMAC key of chat export URLs; empty derives one from RTK_INTERNAL_TOKEN."
    )
    orchestrator_participant_events_durable: str = Field(
        default="orchestrator-participant-deleted",
        description="Durable JetStream consumer that removes the peers of deleted participants.",
    )
    orchestrator_outbox_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often the event outbox is drained when nothing woke it."
    )
