"""Fixtures of the end-to-end media tests: the real stack (same processes as `make run`, one SFU)
and SDK peers publishing synthetic media over loopback RTP through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sfu_stack_helpers import SMALL_VIDEO, Api
from stack_support import SdkClients, loopback_only_ice, start_stack

loopback_only_ice()


@pytest.fixture(scope="package")
async def stack(request: pytest.FixtureRequest, infra: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    database_url = await infra.create_database()
    running = start_stack(infra, tmp_path_factory.mktemp("media-stack"), database_url)
    yield running
    running.dev.stop()


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Api]:
    client = Api(stack)
    yield client
    await client.close()


@pytest.fixture
async def connect(stack: Any) -> AsyncIterator[Any]:
    """`await connect(token, **options)` → an initialised SDK client (small synthetic video by
    default), left after the test."""
    clients = SdkClients(stack, SMALL_VIDEO)
    yield clients.connect
    await clients.close()
