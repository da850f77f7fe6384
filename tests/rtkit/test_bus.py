import asyncio
import uuid

from google.protobuf import timestamp_pb2
from rtkit.bus import MESSAGE_TYPE_HEADER, EventBus, PublishError, event_subject


async def test_publish_is_deduplicated_and_durable_consumer_resumes(infra):
    bus = await EventBus.connect(infra.nats_url, name="test")
    app = uuid.uuid4().hex
    subject = event_subject(app, "meetings", "m1", "meeting_created")
    try:
        payload = timestamp_pb2.Timestamp(seconds=42)
        event_id = uuid.uuid4().hex
        await bus.publish(subject, payload, event_id=event_id)
        await bus.publish(subject, payload, event_id=event_id)  # a retried publish
        await bus.publish(subject, timestamp_pb2.Timestamp(seconds=43), event_id=uuid.uuid4().hex)

        received: list[int] = []
        done = asyncio.Event()

        async def handler(msg):
            received.append(timestamp_pb2.Timestamp.FromString(msg.data).seconds)
            if len(received) >= 2:
                done.set()

        durable = f"test-{app[:8]}"
        await bus.consume(f"realtime.events.v1.apps.{app}.>", durable, handler)
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.sleep(0.3)
        assert received == [42, 43]
    finally:
        await bus.close()

    # A new process with the same durable name sees only what was published after its ack.
    bus2 = await EventBus.connect(infra.nats_url, name="test2")
    try:
        await bus2.publish(subject, timestamp_pb2.Timestamp(seconds=44), event_id=uuid.uuid4().hex)
        again: list[int] = []
        got = asyncio.Event()

        async def handler2(msg):
            again.append(timestamp_pb2.Timestamp.FromString(msg.data).seconds)
            got.set()

        await bus2.consume(f"realtime.events.v1.apps.{app}.>", durable, handler2)
        await asyncio.wait_for(got.wait(), 10)
        await asyncio.sleep(0.3)
        assert again == [44]
    finally:
        await bus2.close()


def test_subject_tokens_are_validated():
    import pytest

    with pytest.raises(ValueError):
        event_subject("app.with.dots", "meetings", "m", "x")
    with pytest.raises(ValueError):
        event_subject("app", "meetings", "*", "x")


async def test_publish_many_is_durable_in_order_and_deduplicated(infra):
    bus = await EventBus.connect(infra.nats_url, name="test-many")
    app = uuid.uuid4().hex
    try:
        batch = [(event_subject(app, "meetings", "m1", f"e{i}"), timestamp_pb2.Timestamp(seconds=i), uuid.uuid4().hex)
                 for i in range(25)]
        await bus.publish_many(batch)
        await bus.publish_many(batch[:5])  # a retried batch: the same ids are dropped by JetStream

        received: list[tuple[int, str, str]] = []
        done = asyncio.Event()

        async def handler(msg):
            received.append((timestamp_pb2.Timestamp.FromString(msg.data).seconds, msg.headers["Nats-Msg-Id"],
                             msg.headers[MESSAGE_TYPE_HEADER]))
            if len(received) >= 25:
                done.set()

        await bus.consume(f"realtime.events.v1.apps.{app}.>", f"test-many-{app[:8]}", handler)
        await asyncio.wait_for(done.wait(), 10)
        await asyncio.sleep(0.3)
        assert [r[0] for r in received] == list(range(25))
        assert [r[1] for r in received] == [event_id for *_, event_id in batch]
        assert {r[2] for r in received} == {"google.protobuf.Timestamp"}
    finally:
        await bus.close()


async def test_publish_many_fails_loudly_when_no_stream_takes_the_subject(infra):
    import pytest

    bus = await EventBus.connect(infra.nats_url, name="test-nostream", ensure_stream=False)
    try:
        with pytest.raises(PublishError):
            await bus.publish_many([(f"no.stream.here.{uuid.uuid4().hex}", timestamp_pb2.Timestamp(seconds=1),
                                     uuid.uuid4().hex)], timeout=3)
        await bus.publish_many([])  # nothing to do is not an error
    finally:
        await bus.close()


async def test_consumer_with_several_subjects_receives_only_those_and_a_durable_is_narrowed_in_place(infra):
    bus = await EventBus.connect(infra.nats_url, name="test-filters")
    app = uuid.uuid4().hex
    durable = f"test-filters-{app[:8]}"
    try:
        def batch(first: int) -> list:
            return [(event_subject(app, "meetings", "m1", name), timestamp_pb2.Timestamp(seconds=first + i),
                     uuid.uuid4().hex) for i, name in enumerate(["wanted_a", "noise", "wanted_b", "noise"])]

        # A durable that reads everything of the app, as an older version created it.
        wide: list[int] = []
        await bus.consume(f"realtime.events.v1.apps.{app}.>", durable,
                          lambda msg: _append(wide, msg))
        await bus.publish_many(batch(0))
        await _until(lambda: len(wide) == 4)
    finally:
        await bus.close()

    bus2 = await EventBus.connect(infra.nats_url, name="test-filters-2")
    try:
        narrow: list[int] = []
        subjects = [f"realtime.events.v1.apps.{app}.*.*.wanted_a", f"realtime.events.v1.apps.{app}.*.*.wanted_b"]
        await bus2.consume(subjects, durable, lambda msg: _append(narrow, msg))
        await bus2.publish_many(batch(10))
        await _until(lambda: len(narrow) >= 2)
        await asyncio.sleep(0.5)
        info = await bus2.js.consumer_info("REALTIME_EVENTS", durable)
        if bus2.nc.connected_server_version.minor < 10 and bus2.nc.connected_server_version.major == 2:
            # NATS 2.9 ignores filter_subjects: the consumer keeps reading everything, from where it was.
            assert narrow == [10, 11, 12, 13]
            return
        # Only the two wanted events, and only the new ones: the position was kept.
        assert narrow == [10, 12]
        assert sorted(info.config.filter_subjects) == sorted(subjects)
    finally:
        await bus2.close()


async def _append(into: list[int], msg) -> None:  # noqa: ANN001
    into.append(timestamp_pb2.Timestamp.FromString(msg.data).seconds)


async def _until(condition, within: float = 10.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
