"""Fixtures of the recording tests: an in-process SFU for media-pipeline tests (loopback ICE)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aioice.ice
import aioice.stun
import pytest
from recording_helpers import MiniSfu
from rtk_sfu.media import IceConfig, MediaConfig, MediaRouter

aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
aioice.stun.RETRY_MAX = 2
aioice.stun.RETRY_RTO = 0.1


@pytest.fixture
async def sfu() -> AsyncIterator[MiniSfu]:
    mini = MiniSfu(MediaRouter(MediaConfig(ice=IceConfig(addresses=("127.0.0.1",)))))
    try:
        yield mini
    finally:
        await mini.close()
