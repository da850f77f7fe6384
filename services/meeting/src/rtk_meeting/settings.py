"""Meeting service settings (`RTK_*` environment variables, see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field

from rtk_meeting.webhooks.settings import WebhookSettings


class MeetingSettings(WebhookSettings):
    """Settings of `python -m rtk_meeting`."""

    service_name: str = Field(default="meeting", description="Name used in logs, traces and metrics.")
    grpc_port: int = Field(default=50051, description="gRPC port (peers use RTK_MEETING_ADDR).")
    meeting_auth_timeout_seconds: float = Field(
        default=5.0, gt=0, description="Deadline of the calls to the auth service (tokens, authorisation)."
    )
    meeting_publish_events: bool = Field(
        default=True, description="Publish domain events to NATS JetStream (false: run without NATS)."
    )
    meeting_outbox_poll_seconds: float = Field(
        default=0.5, gt=0,
        description="How often the event outbox relay looks for rows when not woken by a commit "
                    "(rows left by another replica, or waiting for NATS).",
    )
