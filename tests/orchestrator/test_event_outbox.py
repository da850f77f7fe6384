"""rtkit.outbox: events committed with the state change survive a publish failure and are
relayed in commit order with their event id as Nats-Msg-Id."""

from __future__ import annotations

import asyncio

import asyncpg
import nats
from prometheus_client import REGISTRY
from realtime.events.v1 import event_pb2
from rtkit import outbox
from rtkit.bus import EventBus, OutgoingEvent


class FlakyBus:
    """Fails the first `failures` batches (NATS restarting), then records what they carried."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.published: list[tuple[str, str]] = []

    async def publish_many(self, messages: list[OutgoingEvent]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("nats down")
        for subject, payload, event_id, _, message_type in messages:
            assert message_type == "realtime.events.v1.Event"
            assert event_pb2.Event.FromString(payload).event_id == event_id
            self.published.append((subject, event_id))


def _metric(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"schema": "obx"}) or 0.0


async def _pool(database_url: str) -> asyncpg.Pool:
    conn = await asyncpg.connect(database_url)
    await conn.execute("CREATE SCHEMA IF NOT EXISTS obx; SET search_path TO obx;" + outbox.OUTBOX_DDL)
    await conn.close()
    return await asyncpg.create_pool(database_url, server_settings={"search_path": "obx"}, min_size=1, max_size=4)


async def test_rows_wait_for_nats_and_keep_commit_order(database_url):
    pool = await _pool(database_url)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for i in range(5):
                event = event_pb2.Event(event_id=f"e{i}", app_id="app")
                await outbox.add(conn, f"realtime.events.v1.apps.app.meetings.m.e{i}", event, event_id=f"e{i}")
        try:  # a rolled-back change leaves no event behind
            async with pool.acquire() as conn, conn.transaction():
                await outbox.add(conn, "x.rolled.back", event_pb2.Event(event_id="gone"), event_id="gone")
                raise RuntimeError("state change failed")
        except RuntimeError:
            pass
        relayed, failures = _metric("rtk_outbox_relayed_total"), _metric("rtk_outbox_drain_failures_total")
        bus = FlakyBus(failures=2)
        relay = outbox.OutboxRelay(pool, bus, schema="obx", poll_seconds=0.05)
        relay.start()
        for _ in range(100):
            if bus.failures == 0:
                break
            await asyncio.sleep(0.01)
        # While NATS is away an operator sees the failures and how long the oldest event waits.
        assert _metric("rtk_outbox_drain_failures_total") >= failures + 1
        assert _metric("rtk_outbox_oldest_pending_seconds") > 0
        for _ in range(100):
            if len(bus.published) == 5:
                break
            await asyncio.sleep(0.05)
        await relay.stop()
        assert [e for _, e in bus.published] == ["e0", "e1", "e2", "e3", "e4"]
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
        assert _metric("rtk_outbox_relayed_total") == relayed + 5
        assert _metric("rtk_outbox_oldest_pending_seconds") == 0
    finally:
        await pool.close()


async def test_relay_publishes_to_jetstream_with_dedup_ids(database_url, infra):
    pool = await _pool(database_url)
    bus = await EventBus.connect(infra.nats_url, name="outbox-test")
    nc = await nats.connect(infra.nats_url)
    got: list[tuple[str, str | None]] = []

    async def on_msg(msg) -> None:  # noqa: ANN001
        got.append((event_pb2.Event.FromString(msg.data).event_id, (msg.headers or {}).get("Nats-Msg-Id")))

    await nc.subscribe("realtime.events.v1.apps.outbox-test.>", cb=on_msg)
    await nc.flush()
    try:
        async with pool.acquire() as conn, conn.transaction():
            for i in range(3):
                event = event_pb2.Event(event_id=f"js-{i}-{id(pool)}", app_id="outbox-test")
                await outbox.add(conn, f"realtime.events.v1.apps.outbox-test.meetings.m.e{i}", event,
                                 event_id=event.event_id)
        relay = outbox.OutboxRelay(pool, bus, schema="obx", poll_seconds=0.05)
        relay.start()
        relay.wake()
        expected = [f"js-{i}-{id(pool)}" for i in range(3)]
        for _ in range(100):
            if len({e for e, _ in got}) == 3:
                break
            await asyncio.sleep(0.05)
        await relay.stop()
        # At least once on the wire (a publish retried after a slow ack is seen twice by a core
        # subscriber), in commit order, each with its event id as the de-duplication id ...
        assert list(dict.fromkeys(e for e, _ in got)) == expected
        assert all(event_id == header for event_id, header in got)
        # ... and exactly once in the stream.
        consumer = await bus.js.pull_subscribe("realtime.events.v1.apps.outbox-test.>", durable=None)
        stored: list[str] = []
        try:
            while True:
                stored += [event_pb2.Event.FromString(m.data).event_id for m in await consumer.fetch(50, timeout=1)]
        except nats.errors.TimeoutError:
            pass
        finally:
            await consumer.unsubscribe()
        assert [e for e in stored if e in expected] == expected
    finally:
        await nc.close()
        await bus.close()
        await pool.close()


async def test_one_replica_drains_at_a_time(database_url):
    pool = await _pool(database_url)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await outbox.add_many(conn, [(f"realtime.events.v1.apps.app.meetings.m.e{i}",
                                          event_pb2.Event(event_id=f"r{i}"), f"r{i}") for i in range(3)])
        bus = FlakyBus(failures=0)
        mine, other = outbox.OutboxRelay(pool, bus, schema="obx"), outbox.OutboxRelay(pool, bus, schema="obx")
        async with pool.acquire() as conn, conn.transaction():
            # `other` is in the middle of a drain: it holds the relay lock in its transaction.
            assert await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", other._lock_key)
            assert await mine.drain() is False
            assert bus.published == [] and await pool.fetchval("SELECT count(*) FROM outbox") == 3
        assert await mine.drain() is False  # all three published; no more waiting
        assert [event_id for _, event_id in bus.published] == ["r0", "r1", "r2"]
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.close()
