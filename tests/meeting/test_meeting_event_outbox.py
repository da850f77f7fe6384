"""The meeting service's events through its transactional outbox, on real Postgres and JetStream:
what commits is published in commit order with its request's trace, what rolls back never is,
and rows a dead process left behind are published by the next relay."""

from __future__ import annotations

import random
import uuid

import nats
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from realtime.events.v1 import event_pb2, meeting_events_pb2
from realtime.meeting.v1 import participant_pb2
from rtk_meeting.adapters import OutboxEvents
from rtk_meeting.app import MIGRATIONS_DIR, SCHEMA
from rtk_meeting.domain.ports import PendingEvent
from rtkit import db as rtk_db
from rtkit.bus import EventBus
from rtkit.outbox import OutboxRelay


def _added(app: str, meeting: str, index: int) -> PendingEvent:
    participant = participant_pb2.Participant(id=str(uuid.uuid4()), meeting_id=meeting, name=f"p{index}")
    return PendingEvent(app, "meetings", meeting, "participant_added",
                        meeting_events_pb2.ParticipantAdded(participant=participant))


async def _database(database_url: str) -> rtk_db.Database:
    await rtk_db.migrate(database_url, SCHEMA, MIGRATIONS_DIR)
    return rtk_db.Database(await rtk_db.create_pool(database_url, schema=SCHEMA, min_size=1, max_size=8))


async def _stream(bus: EventBus, app: str, count: int) -> list[tuple[event_pb2.Event, str]]:
    """Events of `app` stored in the stream (once each), with their traceparent header."""
    consumer = await bus.js.pull_subscribe(f"realtime.events.v1.apps.{app}.>", durable=None)
    got: list[tuple[event_pb2.Event, str]] = []
    try:
        while len(got) < count:
            got += [(event_pb2.Event.FromString(m.data), (m.headers or {}).get("traceparent", ""))
                    for m in await consumer.fetch(count - len(got), timeout=10)]
        try:
            extra = await consumer.fetch(1, timeout=0.5)
        except nats.errors.TimeoutError:
            extra = []
        assert not extra, "more events than committed"
    finally:
        await consumer.unsubscribe()
    return got


async def test_committed_events_are_published_in_commit_order_with_their_trace(database_url, infra):
    database = await _database(database_url)
    bus = await EventBus.connect(infra.nats_url, name="test-meeting-outbox")
    relay = OutboxRelay(database.pool, bus, schema=SCHEMA, poll_seconds=0.05, batch=7)
    events = OutboxEvents(relay)
    app, meeting = uuid.uuid4().hex, str(uuid.uuid4())
    traces = [random.getrandbits(128) for _ in range(20)]
    relay.start()

    async def change(index: int) -> None:
        """One request: its own trace, 5 events in one transaction."""
        context = SpanContext(trace_id=traces[index], span_id=random.getrandbits(64), is_remote=True,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED))
        with trace.use_span(NonRecordingSpan(context)):
            async with database.transaction() as conn:
                await events.record(conn, [_added(app, meeting, 5 * index + i) for i in range(5)])
            events.committed()

    async def rolled_back() -> None:
        try:
            async with database.transaction() as conn:
                await events.record(conn, [_added(app, meeting, 999)])
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass

    try:
        # Sequential commits, so the commit order is known; one rolled-back change in between.
        for index in range(20):
            await change(index)
            if index == 10:
                await rolled_back()
        stored = await _stream(bus, app, 100)
        await relay.stop()
        assert await database.pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await bus.close()
        await database.close()
    names = [e.participant_added.participant.name for e, _ in stored]
    assert names == [f"p{n}" for n in range(100)]  # commit order, across relay batches of 7; no p999
    assert len({e.event_id for e, _ in stored}) == 100
    assert [header.split("-")[1] for _, header in stored] == [f"{traces[n // 5]:032x}" for n in range(100)]


async def test_rows_left_by_a_dead_process_are_published_by_the_next_relay(database_url, infra):
    database = await _database(database_url)
    app, meeting = uuid.uuid4().hex, str(uuid.uuid4())
    # The change commits, then the process dies before any relay ran (no relay attached).
    async with database.transaction() as conn:
        await OutboxEvents().record(conn, [_added(app, meeting, i) for i in range(3)])
    assert await database.pool.fetchval("SELECT count(*) FROM outbox") == 3
    bus = await EventBus.connect(infra.nats_url, name="test-meeting-outbox-restart")
    relay = OutboxRelay(database.pool, bus, schema=SCHEMA, poll_seconds=0.05)
    try:
        relay.start()  # the restarted service's relay
        stored = await _stream(bus, app, 3)
        await relay.stop()
    finally:
        await bus.close()
        await database.close()
    assert [e.participant_added.participant.name for e, _ in stored] == ["p0", "p1", "p2"]
