"""Fixtures for the signaling tests: the real stack (with a short resume window and no token
leeway, so that "after the resume window" and "expired token" take seconds), REST helpers, and
SDK clients that are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from realtimekit import RealtimeKitClient
from signaling_helpers import Api
from stack_support import SdkClients, start_stack

RESUME_WINDOW_SECONDS = 3



@pytest.fixture(scope="session")
async def stack(request: pytest.FixtureRequest, infra: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The real stack (same code as `make run`, tests/conftest.py's Stack), tuned for fast
    signaling scenarios: a 3 s resume window and no token clock leeway."""
    database_url = await infra.create_database()
    running = start_stack(
        infra,
        tmp_path_factory.mktemp("signal-stack"),
        database_url,
        extra_env={
            "RTK_ORCHESTRATOR_RESUME_WINDOW_SECONDS": str(RESUME_WINDOW_SECONDS),
            "RTK_ORCHESTRATOR_REAPER_INTERVAL_SECONDS": "0.25",
            "RTK_AUTH_TOKEN_LEEWAY_SECONDS": "0",
        },
    )
    yield running
    running.dev.stop()


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Api]:
    client = Api(stack)
    yield client
    await client.close()


Connect = Callable[..., Awaitable[RealtimeKitClient]]


@pytest.fixture
async def connect(stack: Any) -> AsyncIterator[Connect]:
    """`await connect(token, **options)` → an initialised SDK client, closed after the test."""
    clients = SdkClients(stack, leave=False)
    yield clients.connect
    await clients.close()
