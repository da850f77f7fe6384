"""Transactional outbox: events are written in the same Postgres transaction as the state change
they describe, and a relay publishes them to JetStream afterwards (Nats-Msg-Id = event id, so a
publish retried after a crash is de-duplicated) and deletes them. Nothing is lost when NATS is
down or restarting, or when the service dies after the commit: rows wait until a relay succeeds.

The table lives in the service's own schema (see `OUTBOX_DDL`); one relay at a time drains it
(transaction-level advisory lock), which keeps the publish order equal to the commit order. A
drain is three round trips: BEGIN, one statement that takes the lock and deletes the oldest rows
(returning them), and COMMIT once JetStream acknowledged the batch, published pipelined
(`EventBus.publish_many`: one ack wait for the batch). A failed publish rolls the delete back and
the batch is retried whole; the ids make the repeats harmless. Under load, drains are at least
`min_interval_seconds` apart, so one drain takes several commits' rows. Each row keeps the `traceparent` of the request that wrote it, so the
event continues that trace.

    await outbox.add(conn, subject, event, event_id=event.event_id)   # inside the transaction
    relay = OutboxRelay(pool, bus, schema="orchestrator"); relay.start(); relay.wake()  # after commit
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from typing import Protocol

import asyncpg
from google.protobuf.message import Message

from rtkit import metrics, telemetry
from rtkit.bus import OutgoingEvent
from rtkit.logging import get_logger

log = get_logger("rtkit.outbox")

# Put this in the service's migration (schema-qualified by the search path).
OUTBOX_DDL = """
CREATE TABLE IF NOT EXISTS outbox (
    id         bigserial PRIMARY KEY,
    event_id   text NOT NULL,
    subject    text NOT NULL,
    payload    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    trace_parent text
);
"""


class Publisher(Protocol):
    async def publish_many(self, messages: Sequence[OutgoingEvent]) -> None: ...


def _trace_parent() -> str | None:
    return telemetry.inject_headers({}).get("traceparent")


async def add(conn: asyncpg.Connection, subject: str, message: Message, *, event_id: str) -> None:
    """Queue `message` for `subject`; call inside the transaction that makes the change."""
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, payload, trace_parent) VALUES ($1, $2, $3, $4)",
        event_id,
        subject,
        message.SerializeToString(),
        _trace_parent(),
    )


async def add_many(conn: asyncpg.Connection, events: Sequence[tuple[str, Message, str]]) -> None:
    """Queue `(subject, message, event_id)`s in this order, with one statement; call inside the
    transaction that makes the change."""
    if not events:
        return
    await conn.execute(
        "INSERT INTO outbox (event_id, subject, payload, trace_parent)"
        " SELECT e, s, p, $4 FROM unnest($1::text[], $2::text[], $3::bytea[]) WITH ORDINALITY AS t(e, s, p, n)"
        " ORDER BY n",
        [event_id for _, _, event_id in events],
        [subject for subject, _, _ in events],
        [message.SerializeToString() for _, message, _ in events],
        _trace_parent(),
    )


class OutboxRelay:
    """Publishes queued rows in commit order and deletes them once JetStream acknowledged."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        bus: object,
        *,
        schema: str,
        message_type: str = "realtime.events.v1.Event",
        batch: int = 500,
        poll_seconds: float = 0.5,
        min_interval_seconds: float = 0.02,
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._schema = schema
        self._message_type = message_type
        self._batch = batch
        self._poll = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._min_interval = min_interval_seconds
        self._lock_key = int.from_bytes(hashlib.sha256(f"rtk-outbox-{schema}".encode()).digest()[:8], "big",
                                        signed=True)
        # The advisory lock is an InitPlan (taken once); without it no row is claimed.
        self._claim = (
            f"WITH relay AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1) AS mine),"
            f" claimed AS (SELECT id FROM {schema}.outbox WHERE (SELECT mine FROM relay) ORDER BY id LIMIT $2)"
            f" DELETE FROM {schema}.outbox AS o USING claimed WHERE o.id = claimed.id"
            " RETURNING o.id, o.event_id, o.subject, o.payload, o.trace_parent,"
            " extract(epoch FROM clock_timestamp() - o.created_at)::float8 AS age"
        )
        self._oldest_age = (f"SELECT extract(epoch FROM clock_timestamp() - created_at)::float8"
                            f" FROM {schema}.outbox ORDER BY id LIMIT 1")
        self._relayed = metrics.OUTBOX_RELAYED.labels(schema)
        self._failures = metrics.OUTBOX_DRAIN_FAILURES.labels(schema)
        self._oldest = metrics.OUTBOX_OLDEST_PENDING.labels(schema)

    def wake(self) -> None:
        """Something was committed: drain now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self._schema}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        # Last attempt so that a clean shutdown leaves nothing behind when NATS is up.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._drain_all(), timeout=3)

    async def _drain_all(self) -> None:
        while await self.drain():
            pass

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                more = await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - NATS or Postgres away: retry later
                log.warning("outbox_drain_failed", schema=self._schema, error=str(exc))
                self._failures.inc()
                await self._measure_backlog()
                more = False
                await asyncio.sleep(self._poll)
            if more:
                continue
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            self._wake.clear()
            # Under load commits wake the relay far more often than it needs to run: drains at
            # least min_interval apart take several commits' rows each (fewer round trips). After
            # a quiet spell the first commit is relayed at once.
            pause = self._min_interval - (loop.time() - started)
            if pause > 0:
                await asyncio.sleep(pause)

    async def drain(self) -> bool:
        """Publish one batch; True when more rows may be waiting.

        Three round trips: BEGIN; one statement that takes the relay lock and deletes (returning)
        the oldest rows; COMMIT once JetStream acknowledged the batch. A failed publish raises,
        which rolls the delete back: the rows are still there for the next attempt.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(self._claim, self._lock_key, self._batch)
            if not rows:
                return False  # nothing waiting, or another replica is draining
            rows = sorted(rows, key=lambda row: row["id"])  # RETURNING has no order
            await self._bus.publish_many([
                OutgoingEvent(row["subject"], bytes(row["payload"]), row["event_id"],
                              {"traceparent": row["trace_parent"]} if row["trace_parent"] else {},
                              self._message_type)
                for row in rows
            ])
        self._relayed.inc(len(rows))
        more = len(rows) == self._batch
        # A partial batch took everything committed so far; a full one leaves rows at least as
        # old as its newest.
        self._oldest.set(rows[-1]["age"] if more else 0.0)
        return more

    async def _measure_backlog(self) -> None:
        """After a failed drain: how long the oldest waiting event has waited (if Postgres answers)."""
        try:
            age = await self._pool.fetchval(self._oldest_age, timeout=2)
        except Exception:  # noqa: BLE001 - Postgres away too: keep the last value
            return
        self._oldest.set(age or 0.0)
