"""JetStream events → rows of the delivery outbox.

The dispatcher is the handler of the durable consumer `meeting-webhook-dispatch`. For each event
that maps to a webhook event (catalogue.py) and has a body builder (payloads.py), it records one
delivery per enabled webhook of the app subscribed to that event, then returns, and only then
`EventBus.consume` acknowledges the message. A crash before the insert means a redelivery; a
crash after it and before the ack means a redelivery whose insert is a no-op, because the
delivery id is deterministic:

    delivery id = rtk-uuid = uuid5(namespace = webhook id, name = event id)

The same event therefore never produces two deliveries to one webhook, however often JetStream
redelivers it, and every retry of a delivery carries the same `rtk-uuid`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import orjson
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from realtime.events.v1 import event_pb2
from rtkit.db import Database
from rtkit.logging import get_logger

from rtk_meeting.webhooks import catalogue, payloads, store
from rtk_meeting.webhooks.auth import AppDirectory

log = get_logger("rtk_meeting.webhooks.dispatcher")


def delivery_id(webhook_id: str | uuid.UUID, event_id: str) -> uuid.UUID:
    """The `rtk-uuid` of the delivery of one event to one webhook (stable across retries)."""
    namespace = webhook_id if isinstance(webhook_id, uuid.UUID) else uuid.UUID(webhook_id)
    return uuid.uuid5(namespace, event_id)


def source_subjects() -> list[str]:
    """Subjects of the domain events that become webhooks: the dispatcher consumer's filter.
    A domain event's subject ends with its payload's oneof name (catalogue.py)."""
    kinds = sorted(kind for kind in catalogue.DOMAIN_TO_WEBHOOK if kind in payloads.BUILDERS)
    return [f"realtime.events.v1.apps.*.*.*.{kind}" for kind in kinds]


def _subject_tokens(subject: str) -> tuple[str, str, str]:
    """(app_id, collection, resource_id) of `realtime.events.v1.apps.<app>.<collection>.<id>.<event>`."""
    parts = subject.split(".")
    if len(parts) == 8 and parts[3] == "apps":
        return parts[4], parts[5], parts[6]
    return "", "", ""


class Dispatcher:
    def __init__(self, db: Database, apps: AppDirectory, *, on_enqueued: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._apps = apps
        self._on_enqueued = on_enqueued

    async def handle(self, msg: Msg) -> None:
        """Consume one message; raising makes the bus nak it (redelivered after a short delay)."""
        try:
            event = event_pb2.Event.FromString(msg.data)
        except DecodeError:
            log.error("webhook_event_undecodable", subject=msg.subject)
            return  # a poison message: acknowledged, never retried
        await self.dispatch(event, msg.subject, fallback_event_id=_msg_id(msg))

    async def dispatch(self, event: event_pb2.Event, subject: str = "", *, fallback_event_id: str = "") -> int:
        """Record the deliveries of one event; returns how many were new."""
        kind = event.WhichOneof("payload")
        if kind is None:
            return 0
        webhook_event = catalogue.DOMAIN_TO_WEBHOOK.get(kind)
        builder = payloads.BUILDERS.get(kind)
        if webhook_event is None or builder is None:
            return 0
        subject_app, collection, resource_id = _subject_tokens(subject)
        app_id = event.app_id or subject_app
        event_id = event.event_id or fallback_event_id
        if not app_id or not event_id:
            log.warning("webhook_event_incomplete", subject=subject, app_id=app_id, event_id=event_id)
            return 0
        subscribers = await store.subscribers(self._db.pool, app_id, webhook_event)
        if not subscribers:
            return 0
        payload = getattr(event, kind)
        meeting_id = payloads.meeting_id_of(payload) or (resource_id if collection == "meetings" else "")
        meeting = await store.meeting(self._db.pool, app_id, meeting_id) if meeting_id else None
        context = payloads.Context(
            app_id=app_id,
            app_name=await self._apps.app_name(app_id),
            meeting_id=meeting_id,
            meeting_title=meeting.title if meeting else None,
            meeting_create_time=meeting.create_time if meeting else None,
        )
        body = orjson.dumps(builder(context, payload))
        event_time = event.occur_time.ToDatetime(tzinfo=dt.UTC) if event.HasField("occur_time") else dt.datetime.now(dt.UTC)
        new = await store.enqueue(
            self._db.pool,
            [
                store.NewDelivery(
                    id=delivery_id(webhook_id, event_id),
                    app_id=app_id,
                    webhook_id=webhook_id,
                    event_id=event_id,
                    event=webhook_event,
                    body=body,
                    event_time=event_time,
                )
                for webhook_id in subscribers
            ],
        )
        if new:
            log.info("webhook_deliveries_recorded", app_id=app_id, meeting_id=meeting_id, webhook_event=webhook_event,
                     event_id=event_id, deliveries=new)
            self._on_enqueued()
        return new


def _msg_id(msg: Msg) -> str:
    headers = msg.headers or {}
    return headers.get("Nats-Msg-Id", "")
