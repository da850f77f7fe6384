"""The meeting service's event publisher on real JetStream: queued publishing keeps the commit
order across concurrent callers, loses nothing on close, and stamps events (time, trace) when they
are queued."""

from __future__ import annotations

import asyncio
import random
import uuid

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from realtime.events.v1 import event_pb2, meeting_events_pb2
from realtime.meeting.v1 import participant_pb2
from rtk_meeting.adapters import NatsEventPublisher
from rtk_meeting.domain.ports import PendingEvent
from rtkit.bus import EventBus


def _added(app: str, meeting: str, index: int) -> PendingEvent:
    participant = participant_pb2.Participant(id=str(uuid.uuid4()), meeting_id=meeting, name=f"p{index}")
    return PendingEvent(app, "meetings", meeting, "participant_added", "participant_added",
                        meeting_events_pb2.ParticipantAdded(participant=participant))


async def _received(bus: EventBus, app: str, count: int) -> list[event_pb2.Event]:
    received: list[event_pb2.Event] = []
    done = asyncio.Event()

    async def handler(msg) -> None:  # noqa: ANN001
        received.append(event_pb2.Event.FromString(msg.data))
        if len(received) >= count:
            done.set()

    await bus.consume(f"realtime.events.v1.apps.{app}.>", f"test-queued-{app[:8]}", handler)
    await asyncio.wait_for(done.wait(), 15)
    await asyncio.sleep(0.3)  # nothing beyond `count` (no duplicates)
    return received


async def test_queued_events_keep_call_order_and_close_drains_them(infra):
    bus = await EventBus.connect(infra.nats_url, name="test-queued")
    app, meeting = uuid.uuid4().hex, str(uuid.uuid4())
    publisher = NatsEventPublisher(bus, background=True, max_batch=7)
    try:
        # 20 concurrent callers, 5 events each: each call returns without waiting for JetStream.
        calls = [[_added(app, meeting, 5 * c + i) for i in range(5)] for c in range(20)]
        await asyncio.gather(*(publisher.publish_many(events) for events in calls))
        await publisher.close()
        received = await _received(bus, app, 100)
    finally:
        await bus.close()
    names = [e.participant_added.participant.name for e in received]
    assert names == [f"p{n}" for n in range(100)]  # the order of the calls, across batches of 7
    assert len({e.event_id for e in received}) == 100
    times = [e.occur_time.ToNanoseconds() for e in received]
    assert times == sorted(times)


async def test_queue_full_makes_callers_wait_instead_of_growing(infra):
    bus = await EventBus.connect(infra.nats_url, name="test-queued-full")
    app, meeting = uuid.uuid4().hex, str(uuid.uuid4())
    publisher = NatsEventPublisher(bus, background=True, max_queued=10, max_batch=5)
    try:
        for c in range(6):  # 60 events through a queue of at most 10 (+ one call's worth)
            await publisher.publish_many([_added(app, meeting, 10 * c + i) for i in range(10)])
            assert len(publisher._queue) <= 20
        await publisher.close()
        received = await _received(bus, app, 60)
    finally:
        await bus.close()
    assert [e.participant_added.participant.name for e in received] == [f"p{n}" for n in range(60)]


async def test_queued_events_keep_the_trace_of_the_request_they_came_from(infra):
    bus = await EventBus.connect(infra.nats_url, name="test-queued-trace")
    app, meeting = uuid.uuid4().hex, str(uuid.uuid4())
    publisher = NatsEventPublisher(bus, background=True)
    traces = [random.getrandbits(128) for _ in range(3)]
    headers: dict[str, str] = {}
    done = asyncio.Event()

    async def handler(msg) -> None:  # noqa: ANN001
        headers[event_pb2.Event.FromString(msg.data).participant_added.participant.name] = msg.headers["traceparent"]
        if len(headers) == 3:
            done.set()

    async def request(index: int) -> None:
        context = SpanContext(trace_id=traces[index], span_id=random.getrandbits(64), is_remote=True,
                              trace_flags=TraceFlags(TraceFlags.SAMPLED))
        with trace.use_span(NonRecordingSpan(context)):
            await publisher.publish_many([_added(app, meeting, index)])

    try:
        # All three are queued before the publishing task runs (it starts in the first one's context).
        await asyncio.gather(*(request(i) for i in range(3)))
        await publisher.close()
        await bus.consume(f"realtime.events.v1.apps.{app}.>", f"test-trace-{app[:8]}", handler)
        await asyncio.wait_for(done.wait(), 15)
    finally:
        await bus.close()
    assert {name: value.split("-")[1] for name, value in headers.items()} == {
        f"p{i}": f"{traces[i]:032x}" for i in range(3)
    }
