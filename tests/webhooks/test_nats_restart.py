"""At least once across a NATS restart: events already in JetStream when NATS stops (fetched or
not, acknowledged or not) and events published after it is back all reach the receiver."""

from __future__ import annotations

import asyncio
import uuid

from rtkit.bus import EventBus
from stack_support import start_stack

from . import helpers as h
from .conftest import WEBHOOK_ENV, new_app


async def _publish_retrying(bus: EventBus, meeting_id: str, event) -> None:  # noqa: ANN001
    for _ in range(100):
        try:
            await h.publish(bus, meeting_id, event)
            return
        except Exception:  # noqa: BLE001 - NATS still reconnecting
            await asyncio.sleep(0.1)
    raise AssertionError("could not publish after NATS came back")


async def test_nats_restart_mid_stream_loses_nothing(request, infra, tmp_path):
    env = {**WEBHOOK_ENV, "RTK_NATS_URL": ""}  # this stack owns an embedded NATS it can restart
    stack = start_stack(infra, tmp_path / "stack", await infra.create_database(), extra_env=env)
    bus = None
    receiver = await h.Receiver(delay=0.1).start()  # slow enough that events queue up in JetStream
    try:
        assert stack.dev.nats is not None
        app = await new_app(stack)
        async with stack.client() as client:
            created = await client.post(f"{app.base}/webhooks", json={
                "name": "nats-restart", "url": receiver.url, "events": ["meeting.participantJoined"]})
            assert created.status_code == 201, created.text
            hook = created.json()["data"]
        bus = await EventBus.connect(stack.dev.nats_url, name="nats-restart-test")
        session = str(uuid.uuid4())
        events = [h.joined(app.app_id, app.meeting_id, session, n) for n in range(40)]
        for e in events[:25]:
            await h.publish(bus, app.meeting_id, e)
        await receiver.wait_for(lambda hits: len(hits) >= 3)

        stack.dev.nats.stop()  # mid-stream: most of the 25 are still in JetStream, some in flight
        await asyncio.sleep(0.5)
        await asyncio.to_thread(stack.dev.nats.start, stack.dev.logs_dir / "nats.log")
        for e in events[25:]:
            await _publish_retrying(bus, app.meeting_id, e)

        expected = {str(uuid.uuid5(uuid.UUID(hook["id"]), e.event_id)) for e in events}
        await receiver.wait_for(lambda hits: set(receiver.delivered()) >= expected, within=60)
        assert set(receiver.delivered()) == expected
        async with stack.client() as client:
            public_key = (await client.get("/.well-known/webhooks.json")).json()["data"]["publicKey"]
        for hit in receiver.delivered().values():
            h.verify(public_key, hit.body, hit.headers["rtk-signature"])
    finally:
        await receiver.stop()
        if bus is not None:
            await bus.close()
        stack.dev.stop()
