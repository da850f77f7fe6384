"""Webhook delivery settings (`RTK_WEBHOOK_*`).

A `ServiceSettings` subclass so that `MeetingSettings` may inherit it (then the variables show up
in docs/configuration.md); `install()` reads them from the environment when it does not.
"""

from __future__ import annotations

from pydantic import Field
from rtkit.config import ServiceSettings


class WebhookSettings(ServiceSettings):
    """Settings of the webhook dispatcher and delivery worker of the meeting service."""

    webhook_dispatch: bool = Field(
        default=True, description="Consume events and deliver webhooks in this process (false: CRUD API only)."
    )
    webhook_consumer: str = Field(
        default="meeting-webhook-dispatch",
        description="Durable JetStream consumer of the dispatcher; replicas sharing it split the events.",
    )
    webhook_subject: str = Field(
        default="",
        description=("Events the dispatcher reads. Empty: exactly the domain events that map to a webhook "
                     "event (one consumer filtered on those subjects); a subject reads that one, skipping "
                     "unmapped events."),
    )
    webhook_ack_wait_seconds: float = Field(
        default=15.0, gt=0, description="JetStream redelivers an event not acknowledged within this time."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Deadline of one delivery POST (connect + response headers + body)."
    )
    webhook_retry_base_seconds: float = Field(
        default=1.0, gt=0, description="Delay before the first retry; doubled for each further retry."
    )
    webhook_retry_max_delay_seconds: float = Field(
        default=3600.0, gt=0, description="Upper bound of the delay between two attempts (before jitter)."
    )
    webhook_retry_jitter: float = Field(
        default=0.2, ge=0, lt=1, description="Each delay is multiplied by a random factor in [1 - j, 1 + j]."
    )
    webhook_max_attempts: int = Field(
        default=30, ge=1, description="Attempts (first POST included) before a delivery is marked FAILED."
    )
    webhook_max_age_seconds: float = Field(
        default=86_400.0, gt=0, description="A delivery still failing this long after the event is marked FAILED."
    )
    webhook_concurrency: int = Field(default=16, ge=1, description="Deliveries POSTed in parallel per process.")
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="Longest pause between two looks for due deliveries (other replicas' work)."
    )
    webhook_allow_private_urls: bool = Field(
        default=True,
        description="Allow deliveries to loopback, private and link-local addresses (set false for multi-tenant "
        "deployments: blocks SSRF to in-cluster services).",
    )
    webhook_retention_days: int = Field(
        default=30, ge=1, description="Finished deliveries (DELIVERED, FAILED, CANCELLED) are kept this long."
    )
    webhook_app_cache_seconds: float = Field(
        default=300.0, ge=0, description="How long app names (organizedBy.name) are cached."
    )

    webhook_lease_seconds: float = Field(
        default=0.0, ge=0,
        description="How long a claimed delivery stays reserved for its worker; after a crash it is retried once "
        "this passes. 0 means 2 × RTK_WEBHOOK_TIMEOUT_SECONDS + 10 s.",
    )

    def lease_seconds(self) -> float:
        """The effective lease: never shorter than one attempt (timeout + signing)."""
        floor = self.webhook_timeout_seconds + 1.0
        return max(self.webhook_lease_seconds, floor) if self.webhook_lease_seconds else self.webhook_timeout_seconds * 2 + 10.0
