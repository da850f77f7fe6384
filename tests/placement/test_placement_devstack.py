"""`RTK_SFU_REGIONS` on the local stack (`make run`, here through the same DevStack launcher):
one SFU process per region, each heartbeating its own region and coordinates, and the gateway
placing each session's first peer on the nearest of them — seen from SDK clients."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from realtimekit import RealtimeKitClient
from stack_support import start_stack

pytestmark = pytest.mark.timeout(180)

REGIONS = "eu-central:50.11:8.68,ap-south:19.08:72.88"
PARIS = (48.86, 2.35)
SINGAPORE = (1.35, 103.82)



@pytest.fixture
async def regional_stack(request: pytest.FixtureRequest, infra: Any,
                         tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    database_url = await infra.create_database()
    running = start_stack(infra, tmp_path_factory.mktemp("regions-stack"), database_url,
                               extra_env={"RTK_SFU_REGIONS": REGIONS})
    yield running
    running.dev.stop()


def _gauge(stack: Any, sfu: str, name: str) -> float:
    port = stack.dev.services[sfu].metrics_port
    text = httpx.get(f"http://{stack.dev.host}:{port}/metrics", timeout=5).text
    return next((s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name), 0.0)


async def _peer(stack: Any, http: httpx.AsyncClient, meeting_id: str, at: tuple[float, float]) -> RealtimeKitClient:
    body = {"name": "peer", "preset_name": "group_call_participant", "custom_participant_id": uuid.uuid4().hex}
    reply = await http.post(f"{stack.base}/meetings/{meeting_id}/participants", json=body)
    assert reply.status_code < 300, reply.text
    meeting = await RealtimeKitClient.init(auth_token=reply.json()["data"]["token"], base_url=stack.gateway_url,
                                           auto_subscribe=False)
    meeting.set_location_hint(latitude=at[0], longitude=at[1])
    await meeting.join()
    return meeting


async def test_sfu_regions_start_one_sfu_per_region_and_sessions_go_to_the_nearest(regional_stack: Any) -> None:
    stack = regional_stack
    assert stack.dev.sfu_names == ["sfu-eu-central", "sfu-ap-south"]
    node_ids = {name: stack.dev.services[name].overrides["RTK_SFU_NODE_ID"] for name in stack.dev.sfu_names}
    clients: list[RealtimeKitClient] = []
    http = stack.client()
    try:
        placed = {}
        for city, at in (("paris", PARIS), ("singapore", SINGAPORE)):
            reply = await http.post(f"{stack.base}/meetings", json={"title": f"near {city}"})
            meeting_id = reply.json()["data"]["id"]
            first = await _peer(stack, http, meeting_id, at)
            # A later peer from elsewhere joins the session where it already runs.
            other = await _peer(stack, http, meeting_id, SINGAPORE if city == "paris" else PARIS)
            clients += [first, other]
            assert first.meta.media is not None and other.meta.media is not None
            assert other.meta.media["node_id"] == first.meta.media["node_id"]
            assert other.meta.media["reason"] == "SESSION_PINNED"
            placed[city] = first.meta.media
        assert placed["paris"]["node_id"] == node_ids["sfu-eu-central"]
        assert placed["paris"]["region"] == "eu-central"
        assert placed["singapore"]["node_id"] == node_ids["sfu-ap-south"]
        assert placed["singapore"]["region"] == "ap-south"
        assert 0 < placed["paris"]["distance_km"] < 1000 < placed["singapore"]["distance_km"] < 5000

        # The media of each session is on its own SFU process: subscribing creates the peers there.
        for meeting in clients:
            await meeting.participants.subscribe_all()
        assert _gauge(stack, "sfu-eu-central", "rtk_sfu_session_peers") == 2
        assert _gauge(stack, "sfu-ap-south", "rtk_sfu_session_peers") == 2
    finally:
        for meeting in clients:
            await meeting.leave()
        await http.aclose()
