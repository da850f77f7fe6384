"""Webhooks of the meeting service (RealtimeKit reference §3.9, §4.10, §6).

* `servicer.py` / `domain.py` / `store.py` — realtime.meeting.v1.WebhookService: CRUD of
  `meeting.webhooks`, scoped by app.
* `dispatcher.py` — durable JetStream consumer `meeting-webhook-dispatch`: maps domain events
  (catalogue.py) to RealtimeKit bodies (payloads.py) and records one delivery per subscribed
  webhook in `meeting.webhook_deliveries` *before* the event is acknowledged.
* `delivery.py` — the retry worker: claims due deliveries (`FOR UPDATE SKIP LOCKED` + lease),
  signs them through the auth service and POSTs them; schedule and outcomes documented there.

Wiring (in `rtk_meeting.app.build`, after the hook that opens the database pool):

    from rtk_meeting.webhooks import install as install_webhooks
    await install_webhooks(service, settings, db, None, authz)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from realtime.meeting.v1 import webhook_service_pb2, webhook_service_pb2_grpc
from rtkit import clients
from rtkit.authz import Authorizer
from rtkit.bus import EventBus
from rtkit.config import ServiceSettings
from rtkit.db import Database
from rtkit.logging import get_logger
from rtkit.server import Service

from rtk_meeting.webhooks.auth import GrpcAppDirectory, GrpcSigner
from rtk_meeting.webhooks.delivery import DeliveryWorker
from rtk_meeting.webhooks.dispatcher import Dispatcher, source_subjects
from rtk_meeting.webhooks.domain import Webhooks
from rtk_meeting.webhooks.servicer import WebhookServicer
from rtk_meeting.webhooks.settings import WebhookSettings

log = get_logger("rtk_meeting.webhooks")

SERVICE_NAME = webhook_service_pb2.DESCRIPTOR.services_by_name["WebhookService"].full_name

__all__ = ["install", "WebhookSettings"]


async def install(
    service: Service,
    settings: ServiceSettings,
    db: Database,
    bus: EventBus | None,
    authorizer: Authorizer,
) -> None:
    """Register WebhookService and run the dispatcher and delivery worker with the service.

    `db` may still be unconnected (its pool opened by an earlier start hook): it is used only from
    RPCs and from this module's start hook, so call `install` after registering that hook.
    `bus`: a connected EventBus to consume from, or None to open a dedicated NATS connection
    (`settings.nats_url`) in the start hook and close it in the stop hook.
    `RTK_WEBHOOK_*` settings come from `settings` when it is a WebhookSettings, else from the
    environment.
    """
    ws = settings if isinstance(settings, WebhookSettings) else WebhookSettings()
    service.add_servicer(
        webhook_service_pb2_grpc.add_WebhookServiceServicer_to_server,
        WebhookServicer(authorizer, Webhooks(db)),
        SERVICE_NAME,
    )
    if not ws.webhook_dispatch:
        log.info("webhook_dispatch_disabled")
        return

    channel = clients.channel(settings.auth_addr)
    worker = DeliveryWorker(db, GrpcSigner(channel, settings.internal_token), ws)
    dispatcher = Dispatcher(
        db,
        GrpcAppDirectory(channel, settings.internal_token, ttl_seconds=ws.webhook_app_cache_seconds),
        on_enqueued=worker.wake,
    )
    owned: list[EventBus] = []
    state: dict[str, Any] = {}

    async def start() -> None:
        await worker.start()
        state["worker"] = True
        source = bus
        if source is None:
            source = await EventBus.connect(settings.nats_url, name=f"{settings.service_name}-webhooks")
            owned.append(source)
        # Only the events that become webhooks: participant_added and the like never reach us.
        subjects = [ws.webhook_subject] if ws.webhook_subject else source_subjects()
        await source.consume(
            subjects,
            ws.webhook_consumer,
            dispatcher.handle,
            ack_wait=ws.webhook_ack_wait_seconds,
        )
        log.info("webhook_dispatch_started", consumer=ws.webhook_consumer, subjects=subjects)

    async def stop() -> None:
        for b in owned:  # stop taking events first; unacked ones are redelivered to a replica
            # EventBus.close() cancels the consumer, then drains; the drain of a pull subscription
            # waits out its 5 s timeout, and this connection has nothing to flush: bound it.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(b.close(), timeout=1.0)
            with contextlib.suppress(Exception):
                await b.nc.close()
        if state.get("worker"):
            await worker.stop(grace=min(5.0, ws.webhook_timeout_seconds))
        await channel.close()

    service.on_start(start)
    service.on_stop(stop)
