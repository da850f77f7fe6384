"""Fixtures for media-plane tests: real aiortc clients <-> rtk_sfu.media.MediaRouter over
loopback UDP (ICE, DTLS, SRTP all real), synthetic sources, in-process "signaling"."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import aioice.ice
import aioice.stun
import pytest
from rtk_sfu.media import IceConfig, MediaConfig, MediaRouter
from sfu_media_helpers import Harness, metric


@pytest.fixture(autouse=True)
def loopback_ice() -> Iterator[None]:
    """Loopback-only ICE with short STUN retries for the aiortc *clients* of these tests (the SFU
    side is configured through IceConfig); restored afterwards for the rest of the session."""
    saved = aioice.ice.get_host_addresses, aioice.stun.RETRY_MAX, aioice.stun.RETRY_RTO
    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
    aioice.stun.RETRY_MAX, aioice.stun.RETRY_RTO = 2, 0.1
    try:
        yield
    finally:
        aioice.ice.get_host_addresses, aioice.stun.RETRY_MAX, aioice.stun.RETRY_RTO = saved


@pytest.fixture
def media_config() -> MediaConfig:
    return MediaConfig(ice=IceConfig(addresses=("127.0.0.1",)))


@pytest.fixture
async def harness(media_config: MediaConfig) -> AsyncIterator[Harness]:
    h = Harness(MediaRouter(media_config))
    try:
        yield h
    finally:
        await h.close()
    # The SFU never decodes: no SFU-owned receiver ever produced a frame.
    assert metric("rtk_sfu_frames_decoded_total") == 0
