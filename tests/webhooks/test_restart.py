"""At least once across meeting-service restarts (the dispatcher and the delivery worker run in it):
deliveries already recorded, events published while it is down, and POSTs in flight when it is
killed all reach the receiver once it is back. Runs last in the package: it restarts wh_stack's
meeting service."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from . import helpers as h
from .conftest import new_app


async def _statuses(stack, webhook_id: str) -> dict[str, int]:  # noqa: ANN001
    conn = await asyncpg.connect(stack.dev.database_url)
    try:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM meeting.webhook_deliveries WHERE webhook_id = $1 "
                                "GROUP BY status", uuid.UUID(webhook_id))
    finally:
        await conn.close()
    return {r["status"]: r["n"] for r in rows}


async def _create_webhook(stack, app, url: str) -> dict:  # noqa: ANN001
    async with stack.client() as client:
        response = await client.post(f"{app.base}/webhooks", json={
            "name": "restart", "url": url, "events": ["meeting.participantJoined"]})
    assert response.status_code == 201, response.text
    return response.json()["data"]


def _expected(hook: dict, events: list) -> set[str]:
    return {str(uuid.uuid5(uuid.UUID(hook["id"]), e.event_id)) for e in events}


async def test_graceful_restart_with_pending_deliveries_and_events(wh_stack, public_key, bus):
    app = await new_app(wh_stack)
    receiver_up = asyncio.Event()
    receiver = await h.Receiver(respond=lambda n, u: 200 if receiver_up.is_set() else 503).start()
    hook = await _create_webhook(wh_stack, app, receiver.url)
    session = str(uuid.uuid4())
    try:
        # 1. Deliveries recorded in Postgres and failing (receiver down) when the service stops.
        first = [h.joined(app.app_id, app.meeting_id, session, n) for n in range(15)]
        for e in first:
            await h.publish(bus, app.meeting_id, e)
        await receiver.wait_for(lambda hits: len({x.headers["rtk-uuid"] for x in hits}) >= 5)
        wh_stack.dev.stop_service("meeting")

        # 2. Events published while the dispatcher is down wait in JetStream.
        second = [h.joined(app.app_id, app.meeting_id, session, n) for n in range(15, 30)]
        for e in second:
            await h.publish(bus, app.meeting_id, e)
        receiver_up.set()
        await asyncio.to_thread(wh_stack.dev.restart_service, "meeting")

        expected = _expected(hook, first + second)
        await receiver.wait_for(lambda hits: set(receiver.delivered()) >= expected, within=30)
        assert set(receiver.delivered()) == expected
        for hit in receiver.delivered().values():
            h.verify(public_key, hit.body, hit.headers["rtk-signature"])
        statuses = await h.eventually(lambda: _statuses(wh_stack, hook["id"]), lambda st: st == {"DELIVERED": 30})
        assert statuses == {"DELIVERED": 30}
    finally:
        await receiver.stop()


async def test_killed_mid_stream_nothing_is_lost(wh_stack, public_key, bus):
    app = await new_app(wh_stack)
    receiver = await h.Receiver(delay=0.3).start()  # slow: POSTs are in flight when the process dies
    hook = await _create_webhook(wh_stack, app, receiver.url)
    session = str(uuid.uuid4())
    try:
        events = [h.joined(app.app_id, app.meeting_id, session, n) for n in range(40)]
        for e in events[:30]:
            await h.publish(bus, app.meeting_id, e)
        await receiver.wait_for(lambda hits: len(hits) >= 3)
        process = wh_stack.dev.services["meeting"].process
        process.kill()  # SIGKILL: no release of claims, no ack of fetched messages
        await asyncio.to_thread(process.wait)
        for e in events[30:]:
            await h.publish(bus, app.meeting_id, e)
        await asyncio.to_thread(wh_stack.dev.restart_service, "meeting")

        expected = _expected(hook, events)
        # Leased deliveries return after RTK_WEBHOOK_LEASE_SECONDS, unacked events after the ack wait.
        await receiver.wait_for(lambda hits: set(receiver.delivered()) >= expected, within=40)
        assert set(receiver.delivered()) == expected  # duplicates are allowed (at least once), losses are not
        for hit in receiver.hits:
            h.verify(public_key, hit.body, hit.headers["rtk-signature"])
        statuses = await h.eventually(lambda: _statuses(wh_stack, hook["id"]), lambda st: st == {"DELIVERED": 40})
        assert statuses == {"DELIVERED": 40}
    finally:
        await receiver.stop()
