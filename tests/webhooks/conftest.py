"""Fixtures of the webhook end-to-end tests.

`wh_stack` is a dedicated stack (tests/conftest.py's `start_stack`) shared by this package. It is
not the session's `stack` because the dispatcher is a durable JetStream consumer: every stack on
the session's NATS that runs the meeting service with the default consumer name
(`meeting-webhook-dispatch`; tests/signaling starts one) would take a share of the events and
acknowledge them against its own, empty, webhooks table. This stack's meeting service uses a
unique consumer name, so it sees every event, and short retry delays, so retries take
milliseconds. Each test module gets a fresh app, so no other test's events reach its webhooks.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from rtkit.bus import EventBus
from stack_support import start_stack

WEBHOOK_ENV = {
    "RTK_WEBHOOK_RETRY_BASE_SECONDS": "0.25",
    "RTK_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "2",
    "RTK_WEBHOOK_POLL_SECONDS": "0.2",
    "RTK_WEBHOOK_TIMEOUT_SECONDS": "2",
    "RTK_WEBHOOK_LEASE_SECONDS": "4",
    "RTK_WEBHOOK_ACK_WAIT_SECONDS": "3",
}



@pytest.fixture(scope="package")
async def wh_stack(request: pytest.FixtureRequest, infra: Any, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Any]:
    # The tests publish events straight to JetStream, so this stack shares the session's NATS.
    env = {**WEBHOOK_ENV, "RTK_NATS_URL": infra.nats_url,
           "RTK_WEBHOOK_CONSUMER": f"meeting-webhook-dispatch-test-{uuid.uuid4().hex[:8]}"}
    running = start_stack(infra, tmp_path_factory.mktemp("webhook-stack"), await infra.create_database(),
                               extra_env=env)
    yield running
    running.dev.stop()


@dataclass
class WebhookApp:
    app_id: str
    name: str
    base: str
    meeting_id: str
    meeting_title: str
    meeting_created_at: str


async def new_app(stack: Any) -> WebhookApp:
    """A fresh app of the stack's account, with one meeting titled "Weekly sync"."""
    name = f"webhooks-{uuid.uuid4().hex[:8]}"
    async with stack.client() as client:
        created = await client.post(f"/client/v4/accounts/{stack.account_id}/realtime/kit/apps", json={"name": name})
        assert created.status_code == 201, created.text
        app_id = created.json()["data"]["app"]["id"]
        base = f"/client/v4/accounts/{stack.account_id}/realtime/kit/{app_id}"
        meeting = await client.post(f"{base}/meetings", json={"title": "Weekly sync"})
        assert meeting.status_code == 201, meeting.text
        data = meeting.json()["data"]
    return WebhookApp(app_id, name, base, data["id"], data["title"], data["created_at"])


@pytest.fixture(scope="module")
async def wh_app(wh_stack: Any) -> WebhookApp:
    return await new_app(wh_stack)


@pytest.fixture(scope="module")
async def public_key(wh_stack: Any) -> str:
    """The verification key, fetched the way a receiver would: GET /.well-known/webhooks.json."""
    async with wh_stack.client() as client:
        response = await client.get("/.well-known/webhooks.json")
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["success"] is True
    return doc["data"]["publicKey"]


@pytest.fixture(scope="module")
async def bus(infra: Any) -> AsyncIterator[EventBus]:
    """Publishes events to JetStream as the orchestrator does."""
    connected = await EventBus.connect(infra.nats_url, name="webhook-tests")
    yield connected
    await connected.close()
