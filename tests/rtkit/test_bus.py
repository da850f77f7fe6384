import asyncio
import uuid

from google.protobuf import timestamp_pb2
from rtkit.bus import EventBus, event_subject


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
