"""Deliveries end to end: session events published to JetStream (as the orchestrator does) reach a
local HTTP receiver, signed by the auth service's key from /.well-known/webhooks.json."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import orjson

from . import helpers as h


async def create_webhook(wh_stack, wh_app, url: str, events: list[str], **extra) -> dict:  # noqa: ANN001
    async with wh_stack.client() as client:
        response = await client.post(f"{wh_app.base}/webhooks", json={"name": "test", "url": url, "events": events,
                                                                       **extra})
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def delete_webhook(wh_stack, wh_app, hook: dict) -> None:  # noqa: ANN001
    async with wh_stack.client() as client:
        await client.delete(f"{wh_app.base}/webhooks/{hook['id']}")


async def delivery_rows(wh_stack, webhook_id: str) -> list[dict]:  # noqa: ANN001
    conn = await asyncpg.connect(wh_stack.dev.database_url)
    try:
        rows = await conn.fetch("SELECT * FROM meeting.webhook_deliveries WHERE webhook_id = $1", uuid.UUID(webhook_id))
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def test_every_session_event_is_delivered_signed_and_shaped(wh_stack, wh_app, public_key, bus):
    receiver = await h.Receiver().start()
    hook = await create_webhook(wh_stack, wh_app, receiver.url, [
        "meeting.started", "meeting.participantJoined", "meeting.participantLeft", "meeting.ended",
        "meeting.chatSynced",
    ])
    try:
        app, meeting, session = wh_app.app_id, wh_app.meeting_id, str(uuid.uuid4())
        events = [h.started(app, meeting, session), h.joined(app, meeting, session, 1),
                  h.left(app, meeting, session, 1), h.ended(app, meeting, session), h.chat_synced(app, meeting, session)]
        for e in events:
            await h.publish(bus, meeting, e)
        expected = {str(uuid.uuid5(uuid.UUID(hook["id"]), e.event_id)): e for e in events}
        await receiver.wait_for(lambda hits: set(receiver.delivered()) >= set(expected))

        bodies: dict[str, dict] = {}
        for rtk_uuid, hit in receiver.delivered().items():
            assert rtk_uuid in expected
            h.verify(public_key, hit.body, hit.headers["rtk-signature"])  # over the raw bytes
            assert hit.headers["rtk-webhook-id"] == hook["id"]
            assert hit.headers["content-type"] == "application/json"
            body = orjson.loads(hit.body)
            bodies[body["event"]] = body

        meeting_block = {
            "id": meeting, "sessionId": session, "title": "Weekly sync", "roomName": meeting, "status": "LIVE",
            "createdAt": wh_app.meeting_created_at, "startedAt": "2026-03-02T10:00:00.123Z",
            "organizedBy": {"id": app, "name": wh_app.name},
        }
        assert bodies["meeting.started"] == {"event": "meeting.started", "meeting": meeting_block}
        assert bodies["meeting.participantJoined"] == {
            "event": "meeting.participantJoined", "meeting": meeting_block,
            "participant": {"peerId": "peer-1", "userDisplayName": "User 1", "customParticipantId": "cust-1",
                            "clientSpecificId": "cust-1", "joinedAt": "2026-03-02T10:00:01.123Z"},
        }
        assert bodies["meeting.participantLeft"]["participant"]["leftAt"] == "2026-03-02T10:10:01.123Z"
        assert bodies["meeting.ended"] == {
            "event": "meeting.ended", "meeting": {**meeting_block, "endedAt": "2026-03-02T10:30:00.123Z"},
            "reason": "ALL_PARTICIPANTS_LEFT",
        }
        chat = bodies["meeting.chatSynced"]
        assert "meeting" not in chat
        assert {k: chat[k] for k in ("sessionId", "meetingId", "title", "chatDownloadUrl", "organizedBy")} == {
            "sessionId": session, "meetingId": meeting, "title": "Weekly sync",
            "chatDownloadUrl": "https://files.example/chat.csv", "organizedBy": {"id": app, "name": wh_app.name},
        }
        rows = await h.eventually(lambda: delivery_rows(wh_stack, hook["id"]),
                                  lambda rs: [r["status"] for r in rs] == ["DELIVERED"] * 5)
        assert [r["status"] for r in rows] == ["DELIVERED"] * 5
    finally:
        await delete_webhook(wh_stack, wh_app, hook)
        await receiver.stop()


async def test_only_subscribed_events_of_enabled_webhooks_are_sent(wh_stack, wh_app, bus):
    receiver = await h.Receiver().start()
    started_only = await create_webhook(wh_stack, wh_app, receiver.url, ["meeting.started"])
    disabled = await create_webhook(wh_stack, wh_app, receiver.url, ["meeting.started"], enabled=False)
    try:
        app, meeting, session = wh_app.app_id, wh_app.meeting_id, str(uuid.uuid4())
        await h.publish(bus, meeting, h.joined(app, meeting, session, 7))
        await h.publish(bus, meeting, h.started(app, meeting, session))
        await receiver.wait_for(lambda hits: len(hits) >= 1)
        await asyncio.sleep(1.0)  # anything else would have arrived by now
        assert [hit.headers["rtk-webhook-id"] for hit in receiver.hits] == [started_only["id"]]
        assert orjson.loads(receiver.hits[0].body)["event"] == "meeting.started"
    finally:
        await delete_webhook(wh_stack, wh_app, started_only)
        await delete_webhook(wh_stack, wh_app, disabled)
        await receiver.stop()


async def test_5xx_is_retried_with_the_same_rtk_uuid(wh_stack, wh_app, public_key, bus):
    receiver = await h.Receiver(respond=lambda n, u: 500 if n < 2 else 200).start()
    hook = await create_webhook(wh_stack, wh_app, receiver.url, ["meeting.started"])
    try:
        app, meeting = wh_app.app_id, wh_app.meeting_id
        e = h.started(app, meeting, str(uuid.uuid4()))
        await h.publish(bus, meeting, e)
        hits = await receiver.wait_for(lambda hits: len(hits) >= 3)
        assert [x.status for x in hits] == [500, 500, 200]
        assert {x.headers["rtk-uuid"] for x in hits} == {str(uuid.uuid5(uuid.UUID(hook["id"]), e.event_id))}
        assert len({x.body for x in hits}) == 1
        for x in hits:
            h.verify(public_key, x.body, x.headers["rtk-signature"])
        (row,) = await h.eventually(lambda: delivery_rows(wh_stack, hook["id"]),
                                    lambda rs: rs[0]["status"] != "PENDING")
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("DELIVERED", 3, 200)
    finally:
        await delete_webhook(wh_stack, wh_app, hook)
        await receiver.stop()


async def test_4xx_is_failed_without_retry(wh_stack, wh_app, bus):
    receiver = await h.Receiver(respond=lambda n, u: 400).start()
    hook = await create_webhook(wh_stack, wh_app, receiver.url, ["meeting.started"])
    try:
        await h.publish(bus, wh_app.meeting_id, h.started(wh_app.app_id, wh_app.meeting_id, str(uuid.uuid4())))
        await receiver.wait_for(lambda hits: len(hits) >= 1)
        await asyncio.sleep(1.5)  # past the first three retry times of this stack (≈0.25 s, 0.5 s, 1 s)
        assert len(receiver.hits) == 1
        (row,) = await delivery_rows(wh_stack, hook["id"])
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("FAILED", 1, 400)
    finally:
        await delete_webhook(wh_stack, wh_app, hook)
        await receiver.stop()
