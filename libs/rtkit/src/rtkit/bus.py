"""NATS / JetStream wrapper: protobuf events with stable ids and trace context.

Events go to the `REALTIME_EVENTS` stream (subjects `realtime.events.v1.>`); the event id is
sent as `Nats-Msg-Id` so JetStream drops duplicates of a retried publish. Consumers are durable
and acknowledge explicitly, so a restarted consumer resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple

import nats
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from rtkit import metrics, telemetry
from rtkit.logging import get_logger

log = get_logger("rtkit.bus")

EVENTS_STREAM = "REALTIME_EVENTS"
EVENTS_SUBJECTS = ["realtime.events.v1.>"]
MESSAGE_TYPE_HEADER = "Realtime-Message-Type"


def event_subject(app_id: str, collection: str, resource_id: str, event: str) -> str:
    """`realtime.events.v1.apps.<app>.<collection>.<id>.<event>` (ids contain no dots)."""
    for token in (app_id, resource_id):
        if not token or "." in token or "*" in token or ">" in token or " " in token:
            raise ValueError(f"invalid subject token {token!r}")
    return f"realtime.events.v1.apps.{app_id}.{collection}.{resource_id}.{event}"


class PublishError(Exception):
    """JetStream refused or did not acknowledge a published event."""


class OutgoingEvent(NamedTuple):
    """One event for `EventBus.publish_many`. `message` may be already serialised (bytes, e.g. from
    an outbox row), then `message_type` names its protobuf type. `trace_headers` None: the
    publishing context's trace."""

    subject: str
    message: Message | bytes
    event_id: str
    trace_headers: dict[str, str] | None = None
    message_type: str = ""


def _ack_problem(msg: Msg) -> str | None:
    """None for a JetStream PubAck, else what went wrong (no stream for the subject, an API error)."""
    status = (msg.headers or {}).get("Status")
    if status:  # e.g. 503: no stream listens on the subject
        return f"JetStream status {status} {(msg.headers or {}).get('Description', '')}".strip()
    try:
        ack = json.loads(msg.data)
    except ValueError:
        return "malformed JetStream acknowledgement"
    if not isinstance(ack, dict) or "error" in ack or "seq" not in ack:
        error = ack.get("error") if isinstance(ack, dict) else None
        return f"JetStream refused the event: {error or ack}"
    return None


class EventBus:
    """A connected NATS client plus its JetStream context."""

    def __init__(self, nc: Client, js: JetStreamContext) -> None:
        self.nc = nc
        self.js = js
        self._subscriptions: list[Any] = []
        self._tasks: list[asyncio.Task[None]] = []

    @classmethod
    async def connect(cls, url: str, *, name: str, ensure_stream: bool = True) -> EventBus:
        async def _on_error(exc: Exception) -> None:
            log.warning("nats_error", error=str(exc))

        nc = await nats.connect(
            servers=[url],
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=3,
            error_cb=_on_error,
        )
        bus = cls(nc, nc.jetstream(timeout=5))
        if ensure_stream:
            await bus.ensure_stream(EVENTS_STREAM, EVENTS_SUBJECTS)
        return bus

    async def ensure_stream(self, name: str, subjects: list[str], *, max_age_seconds: float = 7 * 24 * 3600) -> None:
        config = StreamConfig(
            name=name,
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=max_age_seconds,
            duplicate_window=120.0,
        )
        try:
            await self.js.stream_info(name)
            await self.js.update_stream(config)
        except NotFoundError:
            try:
                await self.js.add_stream(config)
            except Exception as exc:  # noqa: BLE001 - a replica may have created it meanwhile
                if "already in use" not in str(exc):
                    raise

    async def publish(self, subject: str, message: Message, *, event_id: str,
                      timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the JetStream ack deadline
        """Publish durably (JetStream ack) with de-duplication on `event_id`."""
        headers = telemetry.inject_headers(
            {"Nats-Msg-Id": event_id, MESSAGE_TYPE_HEADER: message.DESCRIPTOR.full_name}
        )
        await self.js.publish(subject, message.SerializeToString(), headers=headers, timeout=timeout)
        metrics.EVENTS_PUBLISHED.labels(subject.rsplit(".", 1)[-1]).inc()

    async def publish_many(self, messages: Sequence[OutgoingEvent | tuple[str, Message, str]], *,
                           timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the JetStream ack deadline
        """Publish `OutgoingEvent`s (or `(subject, message, event_id)` tuples) durably; returns once
        JetStream acknowledged all.

        The same guarantees as `publish` per message (ack, de-duplication on the id, trace
        context), but one reply subscription for the batch instead of a request with its own
        future and timer per message: a third of the CPU. A message's own `trace_headers` (taken
        where the event arose, for events published later from a queue) win over the current
        context's. Raises PublishError on a refused or unacknowledged message; retrying the batch
        with the same ids is safe.
        """
        if not messages:
            return
        trace_headers = telemetry.inject_headers({})
        inbox = self.nc.new_inbox()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        acked: set[str] = set()
        errors: list[str] = []

        async def on_ack(msg: Msg) -> None:
            problem = _ack_problem(msg)
            if problem is not None:
                errors.append(problem)
            acked.add(msg.subject)
            if (problem is not None or len(acked) == len(messages)) and not done.done():
                done.set_result(None)

        subscription = await self.nc.subscribe(f"{inbox}.*", cb=on_ack)
        try:
            for index, item in enumerate(messages):
                subject, message, event_id, own_trace, message_type = OutgoingEvent(*item)
                if isinstance(message, bytes):
                    payload = message
                else:
                    payload, message_type = message.SerializeToString(), message.DESCRIPTOR.full_name
                headers = {**(own_trace if own_trace is not None else trace_headers),
                           "Nats-Msg-Id": event_id, MESSAGE_TYPE_HEADER: message_type}
                await self.nc.publish(subject, payload, reply=f"{inbox}.{index}", headers=headers)
            try:
                await asyncio.wait_for(done, timeout)
            except TimeoutError:
                raise PublishError(f"{len(messages) - len(acked)} of {len(messages)} events unacknowledged") from None
        finally:
            await subscription.unsubscribe()
        if errors:
            raise PublishError(errors[0])
        for subject, *_ in messages:
            metrics.EVENTS_PUBLISHED.labels(subject.rsplit(".", 1)[-1]).inc()

    async def publish_core(self, subject: str, payload: bytes) -> None:
        """Fire-and-forget core NATS publish (heartbeats, presence)."""
        await self.nc.publish(subject, payload)

    async def consume(
        self,
        subject: str | Sequence[str],
        durable: str,
        handler: Callable[[Msg], Awaitable[None]],
        *,
        stream: str = EVENTS_STREAM,
        deliver_new: bool = False,
        ack_wait: float = 30.0,
        max_deliver: int = -1,
    ) -> None:
        """Run `handler` for each message of a durable pull consumer; ack on success, nak on error.

        The handler is called at least once per message; it must be idempotent. Durable names get
        the `RTK_BUS_NAMESPACE` suffix when set, so that several stacks sharing one NATS server
        (tests, previews) each keep their own consumer instead of splitting the events.

        Several subjects make one consumer with `filter_subjects` (NATS ≥ 2.10), so the server
        delivers only those instead of everything for the consumer to skip. An existing durable
        whose filter differs is updated in place, keeping its position.
        """
        namespace = os.environ.get("RTK_BUS_NAMESPACE", "")
        if namespace:
            durable = f"{durable}-{namespace}"
        subjects = [subject] if isinstance(subject, str) else list(subject)
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW if deliver_new else DeliverPolicy.ALL,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )
        await self._update_filter(stream, durable, config, subjects)
        sub = await self.js.pull_subscribe(subjects[0], durable=durable, stream=stream, config=config)
        self._subscriptions.append(sub)

        async def _loop() -> None:
            while True:
                try:
                    messages = await sub.fetch(batch=32, timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - NATS restarting: retry
                    log.warning("consume_fetch_failed", durable=durable, error=str(exc))
                    await asyncio.sleep(0.5)
                    continue
                for msg in messages:
                    try:
                        await handler(msg)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001
                        log.exception("consume_handler_failed", durable=durable, subject=msg.subject)
                        try:
                            await msg.nak(delay=1.0)
                        except Exception:  # noqa: BLE001
                            pass
                        continue
                    try:
                        await msg.ack()
                    except Exception as exc:  # noqa: BLE001 - redelivered later; handler is idempotent
                        log.warning("ack_failed", durable=durable, error=str(exc))

        self._tasks.append(asyncio.create_task(_loop(), name=f"consume-{durable}"))

    async def _update_filter(self, stream: str, durable: str, config: ConsumerConfig, subjects: list[str]) -> None:
        try:
            info = await self.js.consumer_info(stream, durable)
        except NotFoundError:
            return  # pull_subscribe creates it
        current = list(info.config.filter_subjects or []) or [info.config.filter_subject or ""]
        if sorted(current) == sorted(subjects):
            return
        update = copy.copy(config)
        update.name = durable
        try:
            info = await self.js.add_consumer(stream, config=update)  # create-or-update: the position is kept
        except Exception as exc:  # noqa: BLE001 - the old filter still works, only wider
            log.warning("consumer_filter_not_updated", durable=durable, current=current, error=str(exc))
            return
        applied = list(info.config.filter_subjects or []) or [info.config.filter_subject or ""]
        if sorted(applied) == sorted(subjects):
            log.info("consumer_filter_updated", durable=durable, previous=current, subjects=subjects)
        else:  # NATS < 2.10 ignores filter_subjects: every event is delivered (handlers skip the rest)
            log.warning("consumer_filter_not_updated", durable=durable, current=applied,
                        error="the server ignores filter_subjects (NATS < 2.10)")

    async def subscribe(self, subject: str, handler: Callable[[Msg], Awaitable[None]], queue: str = "") -> None:
        """Core NATS subscription (no persistence)."""
        self._subscriptions.append(await self.nc.subscribe(subject, queue=queue, cb=handler))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        # Pull subscriptions have nothing in flight once their fetch loops are cancelled; drop them
        # first so that draining the connection does not wait on them.
        for sub in self._subscriptions:
            try:
                await asyncio.wait_for(sub.unsubscribe(), timeout=1)
            except Exception:  # noqa: BLE001
                pass
        if not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=2)
            except Exception:  # noqa: BLE001
                await self.nc.close()
