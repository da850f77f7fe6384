"""SFU node side: settings, heartbeat contents, draining, and RTK_SFU_REGIONS planning."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import ValidationError
from realtime.events.v1 import node_events_pb2
from realtime.sfu.v1 import node_pb2
from rtk_cli.sfu_regions import parse_sfu_regions, plan_sfu_regions
from rtk_sfu.node import NodeAgent, NodeLoad, ProcessLoadSource
from rtk_sfu.node.load import MediaLoadSource
from rtk_sfu.settings import SfuSettings


async def until(predicate, within: float = 5.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


def settings(**overrides: object) -> SfuSettings:
    base = {"sfu_node_id": "n1", "sfu_region": "eu-central", "grpc_host": "127.0.0.1"}
    base.update(overrides)
    return SfuSettings(**base)


class Load:
    def __init__(self, peers: int = 0) -> None:
        self.peers = peers

    def load(self) -> NodeLoad:
        return NodeLoad(peers=self.peers, tracks=2 * self.peers, packets_per_second=100.0 * self.peers)


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "RTK_SFU_NODE_ID": "fra-1", "RTK_SFU_REGION": "eu-central", "RTK_SFU_LATITUDE": "50.11",
        "RTK_SFU_LONGITUDE": "8.68", "RTK_SFU_CAPACITY_PEERS": "80", "RTK_SFU_ANNOUNCED_IP": "203.0.113.7",
        "RTK_SFU_UDP_PORT_MIN": "40000", "RTK_SFU_UDP_PORT_MAX": "40999",
        "RTK_SFU_STUN_URLS": "stun:stun.example.org:3478",
        "RTK_SFU_TURN_SERVERS": '[{"urls": "turn:turn.example.org:3478", "username": "u", "credential": "p"}]',
    }.items():
        monkeypatch.setenv(key, value)
    s = SfuSettings()
    assert (s.node_id(), s.sfu_region, s.sfu_latitude, s.sfu_capacity_peers) == ("fra-1", "eu-central", 50.11, 80)
    assert s.stun_urls() == ["stun:stun.example.org:3478"]
    assert s.turn_servers() == [{"urls": ["turn:turn.example.org:3478"], "username": "u", "credential": "p"}]
    ice = s.ice_config()
    assert ice.announced_address == "203.0.113.7" and (ice.port_min, ice.port_max) == (40000, 40999)
    assert ice.turn_servers[0].username == "u" and list(ice.stun_urls) == ["stun:stun.example.org:3478"]


def test_settings_defaults_and_validation() -> None:
    s = SfuSettings()
    assert s.node_id(50054).endswith("-50054") and s.sfu_capacity_peers > 0
    assert settings(grpc_host="0.0.0.0").advertised_address(1234).endswith(":1234")
    assert settings(sfu_advertised_address="sfu-0.sfu:50054").advertised_address(1) == "sfu-0.sfu:50054"
    for bad in (
        {"sfu_node_id": "has.dot"},
        {"sfu_latitude": 50.0},  # longitude missing
        {"sfu_latitude": 95.0, "sfu_longitude": 0.0},
        {"sfu_udp_port_min": 5000},
        {"sfu_udp_port_min": 6000, "sfu_udp_port_max": 5000},
        {"sfu_turn_servers": "not json"},
        {"sfu_stun_urls": "http://x"},
    ):
        with pytest.raises(ValidationError):
            settings(**bad)


async def test_heartbeat_describes_the_node() -> None:
    published: list[tuple[str, bytes]] = []

    async def publish(subject: str, payload: bytes) -> None:
        published.append((subject, payload))

    s = settings(sfu_latitude=50.11, sfu_longitude=8.68, sfu_capacity_peers=40, sfu_announced_ip="203.0.113.7",
                 sfu_heartbeat_interval_seconds=0.05)
    agent = NodeAgent(s, Load(peers=3), port=lambda: 50070)
    agent.start(publish)
    assert await until(lambda: len(published) >= 2)
    await agent.stop()
    subject, payload = published[-1]
    assert subject == "realtime.sfu.v1.nodes.n1.heartbeat"
    beat = node_events_pb2.NodeHeartbeat.FromString(payload)
    node = beat.node
    assert (node.node_id, node.region, node.latitude, node.longitude) == ("n1", "eu-central", 50.11, 8.68)
    assert node.advertised_address == "127.0.0.1:50070" and node.public_ip == "203.0.113.7"
    assert node.capacity_peers == 40 and node.capacity_packets_per_second == 60_000
    assert node.state == node_pb2.NODE_STATE_ACTIVE
    assert (node.load.peers, node.load.tracks, node.load.packets_per_second) == (3, 6, 300.0)
    assert node.start_time.seconds > 0 and beat.sent_time.seconds > 0


async def test_node_without_coordinates_leaves_them_unset() -> None:
    agent = NodeAgent(settings(), Load(), port=lambda: 1)
    agent.bind(1)
    node = agent.snapshot()
    assert not node.HasField("latitude") and not node.HasField("longitude")


async def test_drain_publishes_draining_at_once_and_waits_for_peers() -> None:
    published: list[node_events_pb2.NodeHeartbeat] = []

    async def publish(subject: str, payload: bytes) -> None:
        published.append(node_events_pb2.NodeHeartbeat.FromString(payload))

    load = Load(peers=2)
    agent = NodeAgent(settings(sfu_heartbeat_interval_seconds=60), load, port=lambda: 1)
    agent.start(publish)
    assert await until(lambda: bool(published))
    drain = asyncio.create_task(agent.drain("test", max_seconds=10, poll=0.02))
    await asyncio.sleep(0.1)
    assert published[-1].node.state == node_pb2.NODE_STATE_DRAINING  # immediately, not at the next beat
    assert agent.draining and not drain.done()  # two peers still connected
    load.peers = 0
    assert await asyncio.wait_for(drain, 2) is True
    assert agent.begin_drain("again") is False  # idempotent
    # bounded by max_seconds when sessions do not end
    load.peers = 1
    assert await agent.drain("test", max_seconds=0.1, poll=0.02) is False
    await agent.stop()


async def test_heartbeat_survives_publish_failures() -> None:
    calls = 0

    async def flaky(subject: str, payload: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls <= 2:
            raise ConnectionError("nats down")

    agent = NodeAgent(settings(sfu_heartbeat_interval_seconds=0.02), Load(), port=lambda: 1)
    agent.start(flaky)
    assert await until(lambda: calls >= 4)
    await agent.stop()
    assert await agent.publish_now() is True


def test_load_sources() -> None:
    process = ProcessLoadSource().load()
    assert process.peers == 0 and process.cpu_percent >= 0

    class MediaLoad:  # the media engine's rtk_sfu.media.MediaLoad shape
        peers, published_tracks, subscriptions = 4, 3, 9
        packets_in_per_s, packets_out_per_s, bits_out_per_s = 300.0, 900.0, 1e6

    class Router:
        def load(self) -> MediaLoad:
            return MediaLoad()

    media = MediaLoadSource(Router()).load()
    assert (media.peers, media.tracks, media.packets_per_second) == (4, 3, 900.0)


def test_sfu_regions_plan() -> None:
    assert parse_sfu_regions("") == []
    instances = plan_sfu_regions("eu-central:50.11:8.68, us-east:39.04:-77.49,ap-south:19.08:72.88,eu-central")
    assert [i.name for i in instances] == ["sfu-eu-central", "sfu-us-east", "sfu-ap-south", "sfu-eu-central-2"]
    first, last = instances[0], instances[-1]
    assert first.env["RTK_SFU_NODE_ID"] == "sfu-eu-central" and first.env["RTK_SFU_REGION"] == "eu-central"
    assert (first.env["RTK_SFU_LATITUDE"], first.env["RTK_SFU_LONGITUDE"]) == ("50.11", "8.68")
    assert "RTK_SFU_LATITUDE" not in last.env  # region table coordinates on the gateway
    assert len({i.grpc_port for i in instances}) == len({i.metrics_port for i in instances}) == 4
    ranges = [(int(i.env["RTK_SFU_UDP_PORT_MIN"]), int(i.env["RTK_SFU_UDP_PORT_MAX"])) for i in instances]
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))
    # every plan is valid SFU configuration
    for instance in instances:
        s = SfuSettings(**{k.removeprefix("RTK_").lower(): v for k, v in instance.env.items()})
        assert s.node_id() == instance.node_id and s.grpc_port == instance.grpc_port
    ports = iter(range(61000, 61100))
    picked = plan_sfu_regions("a,b", pick_port=lambda default: next(ports), udp_ranges=False, node_id_prefix="t1-")
    assert [(i.node_id, i.grpc_port, i.metrics_port) for i in picked] == [("t1-sfu-a", 61000, 61001),
                                                                         ("t1-sfu-b", 61002, 61003)]
    assert "RTK_SFU_UDP_PORT_MIN" not in picked[0].env
    for bad in ("eu:1", "eu:x:y", "e u", "eu:100:0"):
        with pytest.raises(ValueError):
            parse_sfu_regions(bad)
