"""Real NATS, three real SFU node processes (`python -m rtk_sfu serve`, eu-central / us-east /
ap-south) and a NodeRegistry + Placer as the gateway runs them: peers land on the nearest SFU,
a draining SFU gets no new session, a killed one disappears after the 5 s stale window, and the
`drain` command (Kubernetes preStop) drains and stops its node."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from mmdb_writer import city_record, write_mmdb
from placement_helpers import INTERNAL_TOKEN, SfuProcess
from realtime.gateway.v1 import placement_pb2 as P
from realtime.sfu.v1 import node_pb2, sfu_node_service_pb2, sfu_node_service_pb2_grpc
from rtk_gateway.placement import (
    CidrTable,
    FallbackPinStore,
    GeoIpDatabase,
    KvPinStore,
    LocationHint,
    Locator,
    NodeRegistry,
    Placer,
    RegionTable,
)
from rtkit.bus import EventBus
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError

pytestmark = pytest.mark.timeout(120)

DRAINING = node_pb2.NODE_STATE_DRAINING


@dataclass
class Cluster:
    prefix: str  # of this test's node ids
    nodes: dict[str, SfuProcess]  # "eu" | "us" | "ap"
    registry: NodeRegistry
    placer: Placer
    bus: EventBus
    geoip: GeoIpDatabase

    def node_id(self, key: str) -> str:
        return self.nodes[key].node_id

    def key_of(self, node_id: str) -> str:
        return next(k for k, n in self.nodes.items() if n.node_id == node_id)

    async def place(self, session: str, *, ip: str | None = None, hint: LocationHint | None = None) -> str:
        return self.key_of((await self.placer.place(session, ip=ip, hint=hint)).node_id)


@pytest.fixture
async def cluster(infra, tmp_path: Path) -> AsyncIterator[Cluster]:  # noqa: ANN001
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    nodes = {
        "eu": SfuProcess(prefix + "eu", "eu-central", 50.11, 8.68, tmp_path / "eu.log", infra.nats_url),
        "us": SfuProcess(prefix + "us", "us-east", 39.04, -77.49, tmp_path / "us.log", infra.nats_url,
                         drain_seconds=0.2),
        "ap": SfuProcess(prefix + "ap", "ap-south", 19.08, 72.88, tmp_path / "ap.log", infra.nats_url),
    }
    for node in nodes.values():
        node.start()
    bus = await EventBus.connect(infra.nats_url, name="placement-test", ensure_stream=False)
    regions = RegionTable()
    registry = NodeRegistry(regions=regions, stale_after=5.0, accept=lambda n: n.node_id.startswith(prefix))
    geoip = GeoIpDatabase(str(write_mmdb(tmp_path / "city.mmdb", {
        "81.2.69.0/24": city_record(51.51, -0.13, "GB", "London"),
        "175.16.199.0/24": city_record(43.88, 125.32, "CN", "Changchun"),
    })))
    locator = Locator(
        regions,
        cidrs=CidrTable.parse(json.dumps([{"cidr": "10.20.0.0/16", "region": "ap-south"},
                                          {"cidr": "10.30.0.0/16", "lat": 48.86, "lon": 2.35}]), regions),
        geoip=geoip,
        default_region="us-east",
        region_of_nodes=registry.region_coordinates,
    )
    pins = FallbackPinStore(None)
    assert await pins.connect(lambda: KvPinStore.open(bus.js, ttl_seconds=600))
    placer = Placer(registry, locator, pins)
    await registry.start(bus.nc)
    running = Cluster(prefix, nodes, registry, placer, bus, geoip)
    try:
        ready = await registry.wait_for(lambda: len(registry.live()) == 3, 45)
        assert ready, "SFU nodes did not announce themselves:\n" + "\n".join(
            f"--- {k}\n{n.log_tail()}" for k, n in nodes.items())
        yield running
    finally:
        for node in nodes.values():
            node.stop()
        await registry.stop()
        await bus.close()
        geoip.close()


async def _call(address: str, method: str, request):  # noqa: ANN001, ANN202
    async with grpc.aio.insecure_channel(address) as channel:
        stub = sfu_node_service_pb2_grpc.SfuNodeServiceStub(channel)
        return await getattr(stub, method)(request, metadata=internal_metadata(INTERNAL_TOKEN), timeout=5)


async def _health(address: str) -> int:
    async with grpc.aio.insecure_channel(address) as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        return reply.status


async def _wait(predicate, within: float) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_peers_land_on_the_nearest_sfu(cluster: Cluster) -> None:
    eu = cluster.nodes["eu"]
    view = cluster.registry.get(eu.node_id)
    assert view is not None and view.node.advertised_address == eu.address
    assert view.node.region == "eu-central" and view.node.capacity_peers == 50
    assert view.node.state == node_pb2.NODE_STATE_ACTIVE and view.node.start_time.seconds > 0

    # client hints: a region name, explicit coordinates
    assert await cluster.place("s-dublin", hint=LocationHint(region="eu-west")) == "eu"
    assert await cluster.place("s-newyork", hint=LocationHint(latitude=40.71, longitude=-74.0)) == "us"
    assert await cluster.place("s-delhi", hint=LocationHint(region="ap-south")) == "ap"
    # CIDR table (by region, by coordinates), GeoIP, default region
    assert await cluster.place("s-cidr-ap", ip="10.20.1.2") == "ap"
    assert await cluster.place("s-cidr-paris", ip="10.30.1.2") == "eu"
    assert await cluster.place("s-geo-london", ip="81.2.69.160") == "eu"
    assert await cluster.place("s-geo-changchun", ip="175.16.199.7") == "ap"
    assert await cluster.place("s-default", ip="192.168.7.7") == "us"
    # later peers of a session follow it, wherever they are
    placement = await cluster.placer.place("s-dublin", hint=LocationHint(region="us-east"))
    assert placement.node_id == eu.node_id and placement.reason == P.PLACEMENT_REASON_SESSION_PINNED

    # the pin is in the shared KV bucket: a second gateway replica (own registry) agrees
    other_registry = NodeRegistry(stale_after=5.0, accept=lambda n: n.node_id.startswith(cluster.prefix))
    await other_registry.start(cluster.bus.nc)
    try:
        other = Placer(other_registry, cluster.placer.locator, await KvPinStore.open(cluster.bus.js, ttl_seconds=600))
        again = await other.place("s-newyork", hint=LocationHint(region="ap-south"))
        assert again.node_id == cluster.node_id("us") and again.reason == P.PLACEMENT_REASON_SESSION_PINNED
    finally:
        await other_registry.stop()

    # the node's own API: GetNode and gRPC health
    reply = await _call(eu.address, "GetNode", sfu_node_service_pb2.GetNodeRequest())
    assert reply.node.node_id == eu.node_id and reply.node.latitude == 50.11
    assert await _health(eu.address) == health_pb2.HealthCheckResponse.SERVING
    async with grpc.aio.insecure_channel(eu.address) as channel:  # control needs the internal token
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await sfu_node_service_pb2_grpc.SfuNodeServiceStub(channel).DrainNode(
                sfu_node_service_pb2.DrainNodeRequest(), metadata=internal_metadata("wrong"), timeout=5)
        assert denied.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_draining_and_dead_sfus_get_no_new_session(cluster: Cluster) -> None:
    registry, eu, ap, us = cluster.registry, cluster.nodes["eu"], cluster.nodes["ap"], cluster.nodes["us"]
    assert await cluster.place("room-eu", hint=LocationHint(region="eu-central")) == "eu"
    assert await cluster.place("room-ap", hint=LocationHint(region="ap-south")) == "ap"

    # SIGTERM: the node announces DRAINING at once, keeps running (RTK_DRAIN_SECONDS=30 here)
    eu.signal(signal.SIGTERM)
    assert await _wait(lambda: registry.get(eu.node_id).node.state == DRAINING, 3), eu.log_tail()
    assert not eu.exited() and registry.is_alive(registry.get(eu.node_id))
    reply = await _call(eu.address, "GetNode", sfu_node_service_pb2.GetNodeRequest())
    assert reply.node.state == DRAINING
    assert await _health(eu.address) == health_pb2.HealthCheckResponse.NOT_SERVING
    # … so a new session from Frankfurt goes elsewhere, and the session pinned there moves
    assert await cluster.place("new-fra", hint=LocationHint(latitude=50.11, longitude=8.68)) != "eu"
    moved = await cluster.placer.place("room-eu", hint=LocationHint(region="eu-central"))
    assert moved.node_id != eu.node_id and moved.previous_node_id == eu.node_id

    # SIGKILL: no goodbye; the node is unavailable once 5 s pass without a heartbeat
    ap.signal(signal.SIGKILL)
    killed = time.monotonic()
    assert registry.is_alive(registry.get(ap.node_id))
    assert await cluster.place("room-ap", hint=LocationHint(region="ap-south")) == "ap"  # not yet known dead
    assert await _wait(lambda: not registry.is_alive(registry.get(ap.node_id)), 9)
    elapsed = time.monotonic() - killed
    assert 1.0 <= elapsed <= 7.5, elapsed  # last heartbeat ≤ 2 s before the kill, stale 5 s after it
    assert await cluster.place("new-mumbai", hint=LocationHint(region="ap-south")) == "us"
    replaced = await cluster.placer.place("room-ap", hint=LocationHint(region="ap-south"))
    assert replaced.node_id == us.node_id and replaced.previous_node_id == ap.node_id

    # `python -m rtk_sfu drain` (preStop) on the last node: DRAINING, then the process stops
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtk_sfu", "drain", env=us.env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    assert await _wait(lambda: registry.get(us.node_id).node.state == DRAINING, 15), us.log_tail()
    output, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, output.decode()
    assert b"sfu_drain_done" in output
    assert await _wait(us.exited, 10) and us.process.returncode == 0, us.log_tail()
    # nothing eligible any more: a brand-new session is refused (pinned ones still report their node)
    with pytest.raises(ApiError) as refused:
        await cluster.placer.place("new-anywhere", ip="192.168.7.7")
    assert refused.value.reason == "NO_SFU_CAPACITY"
    assert refused.value.metadata["nodesDraining"] == "2" and refused.value.metadata["nodesStale"] == "1"
