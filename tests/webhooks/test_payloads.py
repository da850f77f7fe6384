"""Bodies (reference §6.4), delivery ids, retry schedule and status classification — no I/O."""

from __future__ import annotations

import datetime as dt
import random
import uuid

import orjson
from realtime.events.v1 import event_pb2
from rtk_meeting.webhooks import catalogue, payloads
from rtk_meeting.webhooks.delivery import backoff, classify
from rtk_meeting.webhooks.dispatcher import delivery_id
from rtk_meeting.webhooks.domain import url_problem
from rtk_meeting.webhooks.settings import WebhookSettings

from . import helpers as h

APP, MEETING, SESSION = "app-1", str(uuid.uuid4()), str(uuid.uuid4())
CREATED = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
CTX = payloads.Context(app_id=APP, app_name="Acme", meeting_id=MEETING, meeting_title="Weekly sync",
                       meeting_create_time=CREATED)


def body(e: event_pb2.Event, ctx: payloads.Context = CTX) -> dict:
    kind = e.WhichOneof("payload")
    return payloads.BUILDERS[kind](ctx, getattr(e, kind))


MEETING_BLOCK = {
    "id": MEETING,
    "sessionId": SESSION,
    "title": "Weekly sync",
    "roomName": MEETING,
    "status": "LIVE",
    "createdAt": "2026-03-01T09:00:00.000Z",
    "startedAt": "2026-03-02T10:00:00.123Z",
    "organizedBy": {"id": APP, "name": "Acme"},
}


def test_meeting_started():
    assert body(h.started(APP, MEETING, SESSION)) == {"event": "meeting.started", "meeting": MEETING_BLOCK}


def test_meeting_ended_has_end_time_and_reason():
    got = body(h.ended(APP, MEETING, SESSION))
    assert got == {
        "event": "meeting.ended",
        "meeting": {**MEETING_BLOCK, "endedAt": "2026-03-02T10:30:00.123Z"},
        "reason": "ALL_PARTICIPANTS_LEFT",
    }
    assert list(got["meeting"]) == ["id", "sessionId", "title", "roomName", "status", "createdAt", "startedAt",
                                    "endedAt", "organizedBy"]


def test_participant_joined_and_left():
    assert body(h.joined(APP, MEETING, SESSION, 3)) == {
        "event": "meeting.participantJoined",
        "meeting": MEETING_BLOCK,
        "participant": {"peerId": "peer-3", "userDisplayName": "User 3", "customParticipantId": "cust-3",
                        "clientSpecificId": "cust-3", "joinedAt": "2026-03-02T10:00:03.123Z"},
    }
    got = body(h.left(APP, MEETING, SESSION, 3))
    assert got["event"] == "meeting.participantLeft"
    assert got["participant"]["leftAt"] == "2026-03-02T10:10:03.123Z"
    assert got["participant"]["joinedAt"] == "2026-03-02T10:00:03.123Z"


def test_chat_synced_is_flat():
    assert body(h.chat_synced(APP, MEETING, SESSION)) == {
        "event": "meeting.chatSynced",
        "sessionId": SESSION,
        "meetingId": MEETING,
        "title": "Weekly sync",
        "chatDownloadUrl": "https://files.example/chat.csv",
        "chatDownloadUrlExpiry": "2027-01-15T08:00:00.000Z",
        "createdAt": "2026-03-01T09:00:00.000Z",
        "startedAt": "2026-03-02T10:00:00.123Z",
        "endedAt": "2026-03-02T10:30:00.123Z",
        "organizedBy": {"id": APP, "name": "Acme"},
    }


def test_unknown_meeting_falls_back_to_the_event():
    ctx = payloads.Context(app_id=APP, app_name="", meeting_id=MEETING, meeting_title=None, meeting_create_time=None)
    got = body(h.started(APP, MEETING, SESSION), ctx)["meeting"]
    assert got["title"] == "title at start" and got["createdAt"] is None
    assert orjson.loads(orjson.dumps(got)) == got


def test_catalogue_matches_the_reference():
    assert catalogue.names() == [
        "meeting.started", "meeting.ended", "meeting.participantJoined", "meeting.participantLeft",
        "meeting.chatSynced", "recording.statusUpdate", "livestreaming.statusUpdate", "meeting.transcript",
        "meeting.summary",
    ]
    assert set(payloads.BUILDERS) <= set(catalogue.DOMAIN_TO_WEBHOOK)


def test_delivery_id_is_stable_and_distinct():
    webhook, other, event_id = uuid.uuid4(), uuid.uuid4(), str(uuid.uuid4())
    assert delivery_id(webhook, event_id) == delivery_id(str(webhook), event_id) == uuid.uuid5(webhook, event_id)
    assert delivery_id(webhook, event_id) != delivery_id(other, event_id)
    assert delivery_id(webhook, event_id) != delivery_id(webhook, str(uuid.uuid4()))


def test_backoff_doubles_with_jitter_and_is_capped():
    s = WebhookSettings(webhook_retry_base_seconds=1, webhook_retry_max_delay_seconds=3600, webhook_retry_jitter=0.2)
    rng = random.Random(7)
    for attempt, nominal in [(1, 1), (2, 2), (3, 4), (4, 8), (12, 2048), (13, 3600), (40, 3600)]:
        for _ in range(20):
            assert nominal * 0.8 <= backoff(attempt, s, rng) <= nominal * 1.2
    flat = WebhookSettings(webhook_retry_jitter=0)
    assert [backoff(n, flat) for n in (1, 2, 3)] == [1, 2, 4]


def test_classify():
    assert [classify(c) for c in (200, 204, 299)] == ["DELIVERED"] * 3
    assert [classify(c) for c in (500, 502, 503, 599)] == ["PENDING"] * 4
    assert [classify(c) for c in (301, 400, 404, 410, 429, 499)] == ["FAILED"] * 6


def test_url_rules():
    assert url_problem("https://example.com/hook") is None
    assert url_problem("http://127.0.0.1:8080/x?y=1") is None
    for bad in ("", "ftp://example.com", "example.com/hook", "https://", "https://u:p@example.com",
                "https://exa mple.com", "http://example.com:99999/", "x" * 3000):
        assert url_problem(bad), bad
