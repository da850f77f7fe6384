"""NodeRegistry eligibility and Placer choice: nearest by great-circle distance, ties by load,
stale/draining/full nodes skipped, session pins and re-placement."""

from __future__ import annotations

import asyncio
import time

import pytest
from placement_helpers import FakeClock, make_node
from realtime.gateway.v1 import placement_pb2 as P
from realtime.sfu.v1 import node_pb2
from rtk_gateway.placement import (
    Coordinates,
    FallbackPinStore,
    LocationHint,
    Locator,
    MemoryPinStore,
    NodeRegistry,
    Placer,
    RegionTable,
)
from rtk_gateway.placement.locator import Location
from rtkit.errors import ApiError

DRAINING = node_pb2.NODE_STATE_DRAINING


def at(lat: float, lon: float) -> Location:
    return Location(Coordinates(lat, lon), P.PLACEMENT_REASON_CLIENT_HINT_COORDINATES, f"test:{lat},{lon}")


DUBLIN, NEW_YORK, DELHI, UNKNOWN = at(53.35, -6.26), at(40.71, -74.0), at(28.61, 77.21), \
    Location(None, P.PLACEMENT_REASON_DEFAULT_REGION, "none")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(clock: FakeClock) -> NodeRegistry:
    return NodeRegistry(clock=clock, stale_after=5.0)


@pytest.fixture
def placer(registry: NodeRegistry) -> Placer:
    return Placer(registry, Locator(RegionTable()), MemoryPinStore(), tie_km=50)


async def three_regions(registry: NodeRegistry, **loads: int) -> None:
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, peers=loads.get("eu", 0)))
    await registry.observe(make_node("us", "us-east", 39.04, -77.49, peers=loads.get("us", 0)))
    await registry.observe(make_node("ap", "ap-south", 19.08, 72.88, peers=loads.get("ap", 0)))


async def test_nearest_node_by_great_circle_distance(registry: NodeRegistry, placer: Placer) -> None:
    await three_regions(registry)
    assert (await placer.choose("s-dublin", DUBLIN)).node_id == "eu"
    assert (await placer.choose("s-ny", NEW_YORK)).node_id == "us"
    p = await placer.choose("s-delhi", DELHI)
    assert p.node_id == "ap" and p.reason == P.PLACEMENT_REASON_CLIENT_HINT_COORDINATES
    assert p.distance_km == pytest.approx(1150, abs=30) and p.advertised_address and p.region == "ap-south"
    assert p.session_id == "s-delhi" and p.place_time.seconds > 0 and not p.previous_node_id


async def test_node_without_coordinates_uses_its_region_table_entry(registry: NodeRegistry, placer: Placer) -> None:
    await registry.observe(make_node("fra", "eu-central"))  # no lat/lon: region table → Frankfurt
    await registry.observe(make_node("iad", "us-east-1"))
    await registry.observe(make_node("nowhere", "lab"))  # unknown region: ranked after located nodes
    assert (await placer.choose("a", DUBLIN)).node_id == "fra"
    assert (await placer.choose("b", NEW_YORK)).node_id == "iad"


async def test_ties_within_tie_km_go_to_the_least_loaded(registry: NodeRegistry, placer: Placer) -> None:
    # two processes in Frankfurt (same coordinates), one ~30 km away, one in Paris (~480 km)
    await registry.observe(make_node("fra-1", "eu-central", 50.11, 8.68, peers=40))
    await registry.observe(make_node("fra-2", "eu-central", 50.11, 8.68, peers=10))
    await registry.observe(make_node("fra-3", "eu-central", 49.99, 8.27, peers=20))
    await registry.observe(make_node("par", "eu-west-3", 48.86, 2.35, peers=0))
    frankfurt, paris = at(50.11, 8.68), at(48.86, 2.35)
    assert (await placer.choose("s1", frankfurt)).node_id == "fra-2"
    await registry.observe(make_node("fra-2", "eu-central", 50.11, 8.68, peers=45))
    assert (await placer.choose("s2", frankfurt)).node_id == "fra-3"  # 30 km further but less loaded
    # Paris is outside the tie band: only when every Frankfurt node is full
    for node_id in ("fra-1", "fra-2"):
        await registry.observe(make_node(node_id, "eu-central", 50.11, 8.68, peers=100))
    await registry.observe(make_node("fra-3", "eu-central", 49.99, 8.27, peers=100))
    assert (await placer.choose("s3", frankfurt)).node_id == "par"
    # the nearest node wins on distance whatever its load
    await registry.observe(make_node("fra-2", "eu-central", 50.11, 8.68, peers=0))
    await registry.observe(make_node("par", "eu-west-3", 48.86, 2.35, peers=99))
    assert (await placer.choose("s4", paris)).node_id == "par"


async def test_unknown_location_takes_the_least_loaded(registry: NodeRegistry, placer: Placer) -> None:
    await three_regions(registry, eu=30, us=5, ap=10)
    p = await placer.choose("s", UNKNOWN)
    assert p.node_id == "us" and p.distance_km == -1 and p.location_source == "none"


async def test_stale_draining_and_full_nodes_are_skipped(
    registry: NodeRegistry, placer: Placer, clock: FakeClock
) -> None:
    await three_regions(registry)
    clock.advance(4)
    await registry.observe(make_node("us", "us-east", 39.04, -77.49))
    await registry.observe(make_node("ap", "ap-south", 19.08, 72.88))
    clock.advance(1.5)  # eu: 5.5 s without a heartbeat → stale
    assert {v.node_id for v in registry.eligible()} == {"us", "ap"}
    assert (await placer.choose("s1", DUBLIN)).node_id != "eu"

    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, state=DRAINING))
    assert (await placer.choose("s2", DUBLIN)).node_id != "eu"

    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, peers=100, capacity=100))  # full
    assert (await placer.choose("s3", DUBLIN)).node_id != "eu"
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, pps=13_000, capacity_pps=12_000))
    assert (await placer.choose("s4", DUBLIN)).node_id != "eu"
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, peers=99, capacity=100))
    assert (await placer.choose("s5", DUBLIN)).node_id == "eu"
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, peers=500, capacity=0))  # 0 = no limit
    assert (await placer.choose("s6", DUBLIN)).node_id == "eu"
    census = registry.census()
    assert (census.known, census.eligible) == (3, 3)


async def test_no_eligible_node_raises_no_sfu_capacity(
    registry: NodeRegistry, placer: Placer, clock: FakeClock
) -> None:
    with pytest.raises(ApiError) as empty:
        await placer.choose("s", DUBLIN)
    assert empty.value.reason == "NO_SFU_CAPACITY" and empty.value.metadata["nodesKnown"] == "0"
    await registry.observe(make_node("a", state=DRAINING))
    await registry.observe(make_node("b", peers=5, capacity=5))
    await registry.observe(make_node("c"))
    clock.advance(6)
    await registry.observe(make_node("a", state=DRAINING))
    await registry.observe(make_node("b", peers=5, capacity=5))
    with pytest.raises(ApiError) as err:
        await placer.choose("s", DUBLIN)
    assert err.value.reason == "NO_SFU_CAPACITY" and err.value.http_status == 503
    assert err.value.metadata == {"sessionId": "s", "nodesKnown": "3", "nodesStale": "1", "nodesDraining": "1",
                                  "nodesFull": "1"}


async def test_session_is_pinned_for_later_peers(registry: NodeRegistry, placer: Placer) -> None:
    await three_regions(registry)
    first = await placer.choose("room", DUBLIN)
    assert first.node_id == "eu" and first.reason == P.PLACEMENT_REASON_CLIENT_HINT_COORDINATES
    # a peer from New York joins the same session: same node, reason SESSION_PINNED
    later = await placer.choose("room", NEW_YORK)
    assert later.node_id == "eu" and later.reason == P.PLACEMENT_REASON_SESSION_PINNED
    assert later.place_time == first.place_time and later.location_source == NEW_YORK.source
    assert later.distance_km == pytest.approx(6200, abs=100)  # from this peer
    # even when the pinned node is full: a room is never split
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, peers=100, capacity=100))
    assert (await placer.choose("room", DELHI)).node_id == "eu"
    # released: the next peer starts over
    await placer.release("room")
    assert (await placer.choose("room", NEW_YORK)).node_id == "us"


async def test_replaced_only_when_pinned_node_drains_or_dies(
    registry: NodeRegistry, placer: Placer, clock: FakeClock
) -> None:
    await three_regions(registry)
    assert (await placer.choose("room", DUBLIN)).node_id == "eu"
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68, state=DRAINING))
    moved = await placer.choose("room", DUBLIN)
    assert moved.node_id != "eu" and moved.previous_node_id == "eu"
    assert moved.reason == P.PLACEMENT_REASON_CLIENT_HINT_COORDINATES
    again = await placer.choose("room", DELHI)  # the new pin holds
    assert again.node_id == moved.node_id and again.reason == P.PLACEMENT_REASON_SESSION_PINNED

    # the new node dies (no heartbeat for > 5 s while the others keep beating)
    for _ in range(3):
        clock.advance(2)
        for node_id, region, lat, lon in (("ap", "ap-south", 19.08, 72.88), ("us", "us-east", 39.04, -77.49)):
            if node_id != moved.node_id:
                await registry.observe(make_node(node_id, region, lat, lon))
    third = await placer.choose("room", DUBLIN)
    assert third.node_id not in ("eu", moved.node_id) and third.previous_node_id == moved.node_id


async def test_replicas_sharing_pins_agree(registry: NodeRegistry) -> None:
    """Two gateway replicas (own registries, shared pin store) racing on one session agree."""
    pins = MemoryPinStore()
    other_registry = NodeRegistry(stale_after=5.0)
    a = Placer(registry, Locator(RegionTable()), pins)
    b = Placer(other_registry, Locator(RegionTable()), pins)
    for reg in (registry, other_registry):
        await three_regions(reg)
    results = await asyncio.gather(*(p.choose(f"room-{i}", loc) for i in range(20)
                                     for p, loc in ((a, DUBLIN), (b, NEW_YORK))))
    for i in range(20):
        assert results[2 * i].node_id == results[2 * i + 1].node_id


async def test_place_locates_then_chooses(registry: NodeRegistry, clock: FakeClock) -> None:
    placer = Placer(registry, Locator(RegionTable(), default_region="ap-south"), MemoryPinStore())
    await three_regions(registry)
    p = await placer.place("s1", ip="8.8.8.8", hint=LocationHint(region="eu-west"))
    assert p.node_id == "eu" and p.reason == P.PLACEMENT_REASON_CLIENT_HINT_REGION
    p = await placer.place("s2", ip="8.8.8.8")
    assert p.node_id == "ap" and p.reason == P.PLACEMENT_REASON_DEFAULT_REGION and p.location_source == "default:ap-south"
    with pytest.raises(ApiError):
        await placer.place("", ip="8.8.8.8")


async def test_warm_up_waits_for_the_first_heartbeats(clock: FakeClock) -> None:
    """A gateway that just started has not heard the nodes yet: it waits (≤ one heartbeat
    interval) instead of failing, and does not re-place a pinned session meanwhile."""
    registry = NodeRegistry(stale_after=5.0)
    registry.started_at = time.monotonic()  # as if start() ran now
    pins = MemoryPinStore()
    placer = Placer(registry, Locator(RegionTable()), pins, warmup_seconds=2.0)

    async def heartbeat_later() -> None:
        await asyncio.sleep(0.3)
        await registry.observe(make_node("eu", "eu-central", 50.11, 8.68))
        await registry.observe(make_node("us", "us-east", 39.04, -77.49))

    task = asyncio.create_task(heartbeat_later())
    p = await placer.choose("room", NEW_YORK)
    assert p.node_id == "us"
    await task
    # a second replica starting with the pin in the shared store keeps the session where it is
    fresh = NodeRegistry(stale_after=5.0)
    fresh.started_at = time.monotonic()
    replica = Placer(fresh, Locator(RegionTable()), pins, warmup_seconds=2.0)

    async def beats() -> None:
        await asyncio.sleep(0.2)
        await fresh.observe(make_node("eu", "eu-central", 50.11, 8.68))
        await asyncio.sleep(0.2)
        await fresh.observe(make_node("us", "us-east", 39.04, -77.49))

    task = asyncio.create_task(beats())
    again = await replica.choose("room", DUBLIN)
    assert again.node_id == "us" and again.reason == P.PLACEMENT_REASON_SESSION_PINNED
    await task


async def test_warm_up_hears_every_node_before_choosing() -> None:
    """Right after start, a node heard first is not chosen just because the nearest one has not
    heartbeated yet: a new session waits out the warm-up."""
    registry = NodeRegistry(stale_after=5.0)
    registry.started_at = time.monotonic()
    placer = Placer(registry, Locator(RegionTable()), MemoryPinStore(), warmup_seconds=1.0)
    await registry.observe(make_node("eu", "eu-central", 50.11, 8.68))

    async def nearest_later() -> None:
        await asyncio.sleep(0.3)
        await registry.observe(make_node("us", "us-east", 39.04, -77.49))

    task = asyncio.create_task(nearest_later())
    p = await placer.choose("room", NEW_YORK)
    await task
    assert p.node_id == "us" and p.reason == P.PLACEMENT_REASON_CLIENT_HINT_COORDINATES


class _BrokenStore:
    async def _down(self, *args: object) -> None:
        raise TimeoutError("kv down")

    get = create = replace = delete = _down


async def test_pins_fall_back_to_memory_when_kv_fails(registry: NodeRegistry) -> None:
    pins = FallbackPinStore(_BrokenStore())  # type: ignore[arg-type]
    placer = Placer(registry, Locator(RegionTable()), pins)
    await three_regions(registry)
    first = await placer.choose("room", DUBLIN)
    assert pins.degraded
    assert (await placer.choose("room", NEW_YORK)).node_id == first.node_id  # pinned in memory
