"""Fixtures of the end-to-end media tests: the real stack (same processes as `make run`, one SFU)
and SDK peers publishing synthetic media over loopback RTP through it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aioice.ice
import aioice.stun
import pytest
from realtimekit import RealtimeKitClient
from sfu_stack_helpers import SMALL_VIDEO, Api

# The SDK's aiortc connections gather on loopback only (the stack's SFU listens there), with
# short STUN retries: deterministic on any host, no network needed.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
aioice.stun.RETRY_MAX = 3
aioice.stun.RETRY_RTO = 0.1



def _root_conftest(config: pytest.Config) -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None)
        if file and Path(file).resolve() == path:
            return plugin
    raise RuntimeError("tests/conftest.py is not loaded")


@pytest.fixture(scope="package")
async def stack(request: pytest.FixtureRequest, infra: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    root = _root_conftest(request.config)
    database_url = await infra.create_database()
    running = root.start_stack(infra, tmp_path_factory.mktemp("media-stack"), database_url)
    yield running
    running.dev.stop()


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Api]:
    client = Api(stack)
    yield client
    await client.close()


@pytest.fixture
async def connect(stack: Any) -> AsyncIterator[Any]:
    """`await connect(token, **options)` → an initialised SDK client, closed after the test."""
    clients: list[RealtimeKitClient] = []

    async def _connect(token: str, **options: Any) -> RealtimeKitClient:
        options.setdefault("defaults", SMALL_VIDEO)
        meeting = await RealtimeKitClient.init(auth_token=token, base_url=stack.gateway_url, **options)
        clients.append(meeting)
        return meeting

    yield _connect
    await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)
