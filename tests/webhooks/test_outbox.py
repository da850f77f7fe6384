"""The delivery outbox on a real Postgres: idempotent recording, SKIP LOCKED claims, leases, and two
delivery workers (replicas) POSTing to a real HTTP receiver. The auth service is replaced by a local
RSA signer here; the end-to-end tests use the real one."""

from __future__ import annotations

import asyncio
import base64
import uuid

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.protobuf import field_mask_pb2
from realtime.events.v1 import meeting_events_pb2
from realtime.meeting.v1 import webhook_pb2
from rtk_meeting.app import MIGRATIONS_DIR, SCHEMA
from rtk_meeting.webhooks import store
from rtk_meeting.webhooks.delivery import DeliveryWorker
from rtk_meeting.webhooks.dispatcher import Dispatcher, delivery_id
from rtk_meeting.webhooks.domain import Webhooks
from rtk_meeting.webhooks.settings import WebhookSettings
from rtkit import db as rtk_db

from . import helpers as h

E = webhook_pb2


class LocalSigner:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        self.fail = False

    async def sign(self, body: bytes) -> str:
        if self.fail:
            raise RuntimeError("auth unavailable")
        return base64.b64encode(self.key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


class Apps:
    async def app_name(self, app_id: str) -> str:
        return "Acme"


def fast(**overrides: object) -> WebhookSettings:
    values = dict(webhook_retry_base_seconds=0.05, webhook_retry_max_delay_seconds=0.2, webhook_poll_seconds=0.1,
                  webhook_timeout_seconds=2.0, webhook_concurrency=8)
    values.update(overrides)
    return WebhookSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def database(database_url: str):
    await rtk_db.migrate(database_url, SCHEMA, MIGRATIONS_DIR)
    pool = await rtk_db.create_pool(database_url, schema=SCHEMA, min_size=1, max_size=10)
    yield rtk_db.Database(pool)
    await pool.close()


async def make_webhook(database: rtk_db.Database, app_id: str, url: str, events: list[int],
                       enabled: bool = True) -> webhook_pb2.Webhook:
    return await Webhooks(database).create(
        app_id, webhook_pb2.Webhook(name="w", url=url, events=events, enabled=enabled)
    )


async def rows(database: rtk_db.Database) -> list[dict]:
    return [dict(r) for r in await database.fetch("SELECT * FROM webhook_deliveries ORDER BY create_time")]


async def test_recording_is_idempotent_and_follows_subscriptions(database):
    app, meeting, session = "app-" + uuid.uuid4().hex[:8], str(uuid.uuid4()), str(uuid.uuid4())
    all_events = await make_webhook(database, app, "http://127.0.0.1:9/a",
                                    [E.WEBHOOK_EVENT_MEETING_STARTED, E.WEBHOOK_EVENT_MEETING_PARTICIPANT_JOINED])
    only_ended = await make_webhook(database, app, "http://127.0.0.1:9/b", [E.WEBHOOK_EVENT_MEETING_ENDED])
    await make_webhook(database, app, "http://127.0.0.1:9/c", [E.WEBHOOK_EVENT_MEETING_STARTED], enabled=False)
    await make_webhook(database, "other-app", "http://127.0.0.1:9/d", [E.WEBHOOK_EVENT_MEETING_STARTED])
    dispatcher = Dispatcher(database, Apps())

    start = h.started(app, meeting, session)
    assert await dispatcher.dispatch(start) == 1
    assert await dispatcher.dispatch(start) == 0  # JetStream redelivery: nothing new
    assert await dispatcher.dispatch(h.ended(app, meeting, session)) == 1
    meeting_created = h.event(app, "meeting_created", meeting_events_pb2.MeetingCreated())
    assert await dispatcher.dispatch(meeting_created) == 0  # not a webhook event

    recorded = await rows(database)
    assert [(r["webhook_id"], r["event"]) for r in recorded] == [
        (uuid.UUID(all_events.id), "meeting.started"), (uuid.UUID(only_ended.id), "meeting.ended"),
    ]
    assert recorded[0]["id"] == delivery_id(all_events.id, start.event_id)
    assert recorded[0]["status"] == "PENDING" and recorded[0]["attempts"] == 0


async def test_claims_are_disjoint_and_leases_expire(database):
    app = "app-" + uuid.uuid4().hex[:8]
    hook = await make_webhook(database, app, "http://127.0.0.1:9/a", [E.WEBHOOK_EVENT_MEETING_PARTICIPANT_JOINED])
    dispatcher = Dispatcher(database, Apps())
    meeting, session = str(uuid.uuid4()), str(uuid.uuid4())
    for n in range(40):
        await dispatcher.dispatch(h.joined(app, meeting, session, n))

    a, b = uuid.uuid4(), uuid.uuid4()
    first, second = await asyncio.gather(
        store.claim(database.pool, limit=40, lease_seconds=0.5, claim_id=a),
        store.claim(database.pool, limit=40, lease_seconds=0.5, claim_id=b),
    )
    ids_a, ids_b = {c.id for c in first}, {c.id for c in second}
    assert not ids_a & ids_b and len(ids_a | ids_b) == 40
    assert all(c.url == hook.url and c.attempts == 1 for c in first + second)
    assert await store.claim(database.pool, limit=40, lease_seconds=0.5, claim_id=uuid.uuid4()) == []

    await asyncio.sleep(0.7)  # both claimers "crashed": their leases end
    c = uuid.uuid4()
    again = await store.claim(database.pool, limit=100, lease_seconds=30, claim_id=c)
    assert {x.id for x in again} == ids_a | ids_b and all(x.attempts == 2 for x in again)
    some = next(iter(ids_a))
    assert not await store.finish(database.pool, some, a, status="DELIVERED", status_code=200, error=None)
    assert await store.finish(database.pool, some, c, status="DELIVERED", status_code=200, error=None)


async def test_two_workers_deliver_each_event_once_with_retries(database):
    app, meeting, session = "app-" + uuid.uuid4().hex[:8], str(uuid.uuid4()), str(uuid.uuid4())
    flaky: dict[str, int] = {}

    def respond(n: int, rtk_uuid: str) -> int:
        flaky[rtk_uuid] = flaky.get(rtk_uuid, 0) + 1
        return 503 if flaky[rtk_uuid] <= 2 and rtk_uuid.startswith(("0", "1", "2", "3")) else 200

    receiver = await h.Receiver(respond=respond, delay=0.01).start()
    gone = await h.Receiver(respond=lambda n, u: 410).start()
    signer = LocalSigner()
    workers = [DeliveryWorker(database, signer, fast()) for _ in range(2)]
    for w in workers:
        await w.start()
    try:
        hook = await make_webhook(database, app, receiver.url, [E.WEBHOOK_EVENT_MEETING_PARTICIPANT_JOINED])
        dead = await make_webhook(database, app, gone.url, [E.WEBHOOK_EVENT_MEETING_PARTICIPANT_JOINED])
        dispatcher = Dispatcher(database, Apps(), on_enqueued=lambda: [w.wake() for w in workers])
        events = [h.joined(app, meeting, session, n) for n in range(30)]
        for e in events:
            await dispatcher.dispatch(e)
        expected = {str(delivery_id(hook.id, e.event_id)) for e in events}
        await receiver.wait_for(lambda hits: set(receiver.delivered()) == expected, within=20)

        delivered = receiver.delivered()
        for hit in delivered.values():
            h.verify(signer.public_pem, hit.body, hit.headers["rtk-signature"])
            assert hit.headers["rtk-webhook-id"] == hook.id
            assert hit.headers["content-type"] == "application/json"
        # 2xx exactly once per delivery (no crash, so no duplicate); retried ones kept their rtk-uuid.
        ok = [x.headers["rtk-uuid"] for x in receiver.hits if x.status == 200]
        assert sorted(ok) == sorted(expected)
        retried = {u for u, count in flaky.items() if count == 3}
        assert retried and all(u[0] in "0123" for u in retried)

        await gone.wait_for(lambda hits: len(hits) == 30)
        want = {(uuid.UUID(hook.id), "DELIVERED"), (uuid.UUID(dead.id), "FAILED")}
        recorded = await h.eventually(lambda: rows(database),
                                      lambda rs: {(r["webhook_id"], r["status"]) for r in rs} == want)
        assert {(r["webhook_id"], r["status"]) for r in recorded} == want
        await asyncio.sleep(0.3)  # longer than the first retry delay
        assert len(gone.hits) == 30  # 410: failed, never retried
    finally:
        for w in workers:
            await w.stop()
        await receiver.stop()
        await gone.stop()


async def test_gives_up_after_max_attempts(database):
    app, meeting, session = "app-" + uuid.uuid4().hex[:8], str(uuid.uuid4()), str(uuid.uuid4())
    down = await h.Receiver(respond=lambda n, u: 500).start()
    signer = LocalSigner()
    worker = DeliveryWorker(database, signer, fast(webhook_max_attempts=3))
    await worker.start()
    try:
        await make_webhook(database, app, down.url, [E.WEBHOOK_EVENT_MEETING_STARTED])
        dispatcher = Dispatcher(database, Apps(), on_enqueued=worker.wake)
        await dispatcher.dispatch(h.started(app, meeting, session))
        await down.wait_for(lambda hits: len(hits) == 3)
        (row,) = await h.eventually(lambda: rows(database), lambda rs: rs[0]["status"] != "PENDING")
        await asyncio.sleep(0.3)  # longer than the last retry delay
        assert len(down.hits) == 3
        assert row["status"] == "FAILED" and row["attempts"] == 3 and row["last_status_code"] == 500
        assert "gave up after 3 attempts" in row["last_error"]
    finally:
        await worker.stop()
        await down.stop()


async def test_deliveries_of_deleted_or_disabled_webhooks_are_cancelled(database):
    app, meeting, session = "app-" + uuid.uuid4().hex[:8], str(uuid.uuid4()), str(uuid.uuid4())
    receiver = await h.Receiver().start()
    deleted = await make_webhook(database, app, receiver.url, [E.WEBHOOK_EVENT_MEETING_ENDED])
    disabled = await make_webhook(database, app, receiver.url, [E.WEBHOOK_EVENT_MEETING_ENDED])
    kept = await make_webhook(database, app, receiver.url, [E.WEBHOOK_EVENT_MEETING_ENDED])
    assert await Dispatcher(database, Apps()).dispatch(h.ended(app, meeting, session)) == 3  # no worker yet
    await Webhooks(database).delete(app, deleted.id)
    await Webhooks(database).update(app, disabled.id, webhook_pb2.Webhook(enabled=False),
                                    field_mask_pb2.FieldMask(paths=["enabled"]))
    worker = DeliveryWorker(database, LocalSigner(), fast())
    await worker.start()
    try:
        await receiver.wait_for(lambda hits: len(hits) == 1)
        for _ in range(50):
            final = {r["webhook_id"]: r["status"] for r in await rows(database)}
            if "PENDING" not in final.values():
                break
            await asyncio.sleep(0.1)
        assert final == {uuid.UUID(deleted.id): "CANCELLED", uuid.UUID(disabled.id): "CANCELLED",
                         uuid.UUID(kept.id): "DELIVERED"}
        assert [hit.headers["rtk-webhook-id"] for hit in receiver.hits] == [kept.id]
    finally:
        await worker.stop()
        await receiver.stop()


async def test_timeouts_are_retried(database):
    app, meeting, session = "app-" + uuid.uuid4().hex[:8], str(uuid.uuid4()), str(uuid.uuid4())
    receiver = await h.Receiver(delay=1.0).start()  # slower than the worker's timeout: attempts time out
    worker = DeliveryWorker(database, LocalSigner(), fast(webhook_timeout_seconds=0.3))
    await worker.start()
    try:
        await make_webhook(database, app, receiver.url, [E.WEBHOOK_EVENT_MEETING_STARTED])
        await Dispatcher(database, Apps(), on_enqueued=worker.wake).dispatch(h.started(app, meeting, session))
        for _ in range(30):
            (row,) = await rows(database)
            if row["attempts"] >= 2:
                break
            await asyncio.sleep(0.1)
        assert row["status"] == "PENDING" and row["last_error"].startswith("timed out")
        receiver.delay = 0.0
        for _ in range(50):
            (row,) = await rows(database)
            if row["status"] != "PENDING":
                break
            await asyncio.sleep(0.1)
        assert row["status"] == "DELIVERED"
    finally:
        await worker.stop()
        await receiver.stop()
