"""Webhook CRUD over RealtimeKit's REST paths, through the gateway and the meeting service."""

from __future__ import annotations

import uuid

import pytest

EVENTS = [
    "meeting.started", "meeting.ended", "meeting.participantJoined", "meeting.participantLeft",
    "meeting.chatSynced", "recording.statusUpdate", "livestreaming.statusUpdate", "meeting.transcript",
    "meeting.summary",
]


def assert_error(response, status: int, reason: str | None = None) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["error"]["code"] == status
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if reason:
        assert body["error"].get("reason") == reason
    return body["error"]


async def test_crud_round_trip(wh_stack, wh_app):
    base = wh_app.base
    async with wh_stack.client() as client:
        created = await client.post(f"{base}/webhooks", json={
            "name": "All events", "url": "https://example.com/hooks/rtk", "events": ["meeting.started", "meeting.ended"],
        })
        assert created.status_code == 201, created.text
        hook = created.json()["data"]
        assert set(hook) == {"id", "name", "url", "events", "enabled", "created_at", "updated_at"}
        assert hook["name"] == "All events" and hook["url"] == "https://example.com/hooks/rtk"
        assert hook["events"] == ["meeting.started", "meeting.ended"] and hook["enabled"] is True
        assert str(uuid.UUID(hook["id"])) == hook["id"]
        assert hook["created_at"].endswith("Z") and hook["updated_at"] == hook["created_at"]
        url = f"{base}/webhooks/{hook['id']}"

        got = await client.get(url)
        assert got.status_code == 200 and got.json() == {"success": True, "data": hook}

        listed = await client.get(f"{base}/webhooks")
        assert listed.status_code == 200 and hook in listed.json()["data"]

        patched = await client.patch(url, json={"enabled": False, "events": ["meeting.participantJoined"]})
        assert patched.status_code == 200, patched.text
        p = patched.json()["data"]
        assert p["enabled"] is False and p["events"] == ["meeting.participantJoined"]
        assert p["name"] == "All events" and p["url"] == hook["url"]
        assert p["updated_at"] > hook["updated_at"] and p["created_at"] == hook["created_at"]

        unchanged = await client.patch(url, json={})
        assert unchanged.json()["data"] == p

        replaced = await client.put(url, json={
            "name": "Renamed", "url": "http://example.org/x", "events": ["meeting.summary", "meeting.summary"],
        })
        assert replaced.status_code == 200, replaced.text
        r = replaced.json()["data"]
        assert (r["name"], r["url"], r["events"], r["enabled"]) == (
            "Renamed", "http://example.org/x", ["meeting.summary"], True)  # PUT: enabled back to its default

        deleted = await client.delete(url)
        assert deleted.status_code == 200 and deleted.json()["data"] == r

        assert_error(await client.get(url), 404, "WEBHOOK_NOT_FOUND")
        assert_error(await client.delete(url), 404, "WEBHOOK_NOT_FOUND")
        assert hook["id"] not in [w["id"] for w in (await client.get(f"{base}/webhooks")).json()["data"]]


async def test_supported_events(wh_stack, wh_app):
    async with wh_stack.client() as client:
        response = await client.get(f"{wh_app.base}/webhooks/all")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "data": EVENTS}


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "url": "ftp://example.com/hook", "events": ["meeting.started"]},
        {"name": "x", "url": "not a url", "events": ["meeting.started"]},
        {"name": "x", "url": "/relative/path", "events": ["meeting.started"]},
        {"name": "x", "url": "https://example.com", "events": ["meeting.exploded"]},
        {"name": "x", "url": "https://example.com", "events": []},
        {"name": "x", "url": "https://example.com"},
        {"url": "https://example.com", "events": ["meeting.started"]},
        {"name": "", "url": "https://example.com", "events": ["meeting.started"]},
        {"name": "x", "url": "https://example.com", "events": ["meeting.started"], "enabled": "yes"},
        {"name": "x", "url": "https://example.com", "events": ["meeting.started"], "secret": "unknown field"},
        {"name": "x", "url": "https://example.com", "events": "meeting.started"},
    ],
)
async def test_bad_input_is_a_400_envelope(wh_stack, wh_app, body):
    async with wh_stack.client() as client:
        error = assert_error(await client.post(f"{wh_app.base}/webhooks", json=body), 400, "INVALID_FIELD")
    assert error["message"].startswith("Invalid request")


async def test_bad_updates_and_unknown_ids(wh_stack, wh_app):
    base = wh_app.base
    async with wh_stack.client() as client:
        hook = (await client.post(f"{base}/webhooks", json={
            "name": "x", "url": "https://example.com/a", "events": ["meeting.started"]})).json()["data"]
        url = f"{base}/webhooks/{hook['id']}"
        assert_error(await client.patch(url, json={"url": "gopher://x"}), 400, "INVALID_FIELD")
        assert_error(await client.patch(url, json={"events": ["nope"]}), 400, "INVALID_FIELD")
        assert_error(await client.patch(url, json={"events": []}), 400, "INVALID_FIELD")
        assert_error(await client.patch(url, json={"name": None}), 400, "INVALID_FIELD")
        assert_error(await client.put(url, json={"name": "x"}), 400, "INVALID_FIELD")
        assert (await client.get(url)).json()["data"] == hook  # nothing changed

        for missing in (str(uuid.uuid4()), "not-a-uuid"):
            other = f"{base}/webhooks/{missing}"
            assert_error(await client.get(other), 404, "WEBHOOK_NOT_FOUND")
            assert_error(await client.patch(other, json={"enabled": False}), 404, "WEBHOOK_NOT_FOUND")
            assert_error(await client.put(other, json={
                "name": "x", "url": "https://example.com", "events": ["meeting.started"]}), 404, "WEBHOOK_NOT_FOUND")
            assert_error(await client.delete(other), 404, "WEBHOOK_NOT_FOUND")
        await client.delete(url)


async def test_webhooks_are_scoped_to_their_app(wh_stack, wh_app):
    async with wh_stack.client() as client:
        hook = (await client.post(f"{wh_app.base}/webhooks", json={
            "name": "x", "url": "https://example.com/a", "events": ["meeting.started"]})).json()["data"]
        # The same id under another app of the same account does not exist there.
        assert_error(await client.get(f"{wh_stack.base}/webhooks/{hook['id']}"), 404, "WEBHOOK_NOT_FOUND")
        assert hook["id"] not in [w["id"] for w in (await client.get(f"{wh_stack.base}/webhooks")).json()["data"]]
        # An app of no account, and a missing token.
        assert_error(await client.get(
            f"/client/v4/accounts/{wh_stack.account_id}/realtime/kit/{uuid.uuid4()}/webhooks"), 404, "APP_NOT_FOUND")
    async with wh_stack.client(token="wrong-token") as anonymous:
        assert_error(await anonymous.get(f"{wh_app.base}/webhooks"), 401)
    async with wh_stack.client() as client:
        await client.delete(f"{wh_app.base}/webhooks/{hook['id']}")
