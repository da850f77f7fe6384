"""SFU placement: which media node serves a session.

    geo.py       — coordinates, haversine distance, the region table (built-in cloud regions)
    locator.py   — Locator: client hint → CIDR table → GeoIP database → default region
    registry.py  — NodeRegistry: live SFU nodes from their NATS heartbeats (stale after 5 s)
    pins.py      — session → node pins in NATS KV `realtime_room_placement` (memory fallback)
    placer.py    — Placer.choose(session_id, location) / place(session_id, ip=, hint=)
    settings.py  — PlacementSettings (RTK_GATEWAY_*)

`install()` wires it into the gateway (called from app.build).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rtkit.bus import EventBus
from rtkit.logging import get_logger

from rtk_gateway.placement.geo import Coordinates, RegionTable, haversine_km, parse_regions
from rtk_gateway.placement.locator import CidrTable, GeoIpDatabase, Location, LocationHint, Locator
from rtk_gateway.placement.pins import BUCKET, FallbackPinStore, KvPinStore, MemoryPinStore
from rtk_gateway.placement.placer import Placer
from rtk_gateway.placement.registry import NodeRegistry
from rtk_gateway.placement.settings import PlacementSettings

if TYPE_CHECKING:
    from rtkit.server import Service

__all__ = [
    "BUCKET",
    "CidrTable",
    "Coordinates",
    "FallbackPinStore",
    "GeoIpDatabase",
    "KvPinStore",
    "Location",
    "LocationHint",
    "Locator",
    "MemoryPinStore",
    "NodeRegistry",
    "PlacementSettings",
    "Placer",
    "RegionTable",
    "build",
    "haversine_km",
    "install",
]

log = get_logger("rtk_gateway.placement")


def build(settings: PlacementSettings) -> tuple[Placer, GeoIpDatabase | None]:
    """The placer from settings, not yet connected (pins in memory until install's start hook)."""
    regions = RegionTable(parse_regions(settings.gateway_regions))
    prefix = settings.gateway_sfu_node_prefix
    registry = NodeRegistry(regions=regions, stale_after=settings.gateway_sfu_stale_seconds,
                            accept=(lambda node: node.node_id.startswith(prefix)) if prefix else None)
    geoip = GeoIpDatabase(settings.gateway_geoip_db) if settings.gateway_geoip_db else None
    locator = Locator(
        regions,
        cidrs=CidrTable.parse(settings.gateway_geo_cidrs, regions),
        geoip=geoip,
        default_region=settings.gateway_default_region,
        region_of_nodes=registry.region_coordinates,
    )
    pins = FallbackPinStore(None)
    return Placer(registry, locator, pins, tie_km=settings.gateway_placement_tie_km), geoip


async def install(service: Service, settings: Any, bus: EventBus | None = None) -> Placer:
    """Create the placer and register its start/stop hooks on the gateway's service.

    `settings`: the gateway's settings; the RTK_GATEWAY_* placement fields are read from it when
    it is a PlacementSettings, else from the environment. `bus`: a connected EventBus to share,
    or None to let placement open (and close) its own NATS connection at start.
    Configuration errors (bad CIDR table, missing GeoIP file, unknown default region) raise here.
    """
    ps = settings if isinstance(settings, PlacementSettings) else PlacementSettings()
    placer, geoip = build(ps)
    pins = placer.pins
    assert isinstance(pins, FallbackPinStore)
    owned: list[EventBus] = []

    async def start() -> None:
        active = bus
        if active is None:
            active = await EventBus.connect(ps.nats_url, name="gateway-placement", ensure_stream=False)
            owned.append(active)
        await placer.registry.start(active.nc)
        if ps.gateway_placement_kv:
            js = active.js

            async def open_kv() -> KvPinStore:
                return await asyncio.wait_for(KvPinStore.open(js, ttl_seconds=ps.gateway_placement_pin_ttl_seconds), 5)

            await pins.connect(open_kv)
        log.info(
            "placement_ready", regions=len(placer.locator.regions), cidrs=len(placer.locator.cidrs),
            geoip=geoip.path if geoip else None, default_region=ps.gateway_default_region or None,
            pins="memory" if pins.degraded else f"kv:{BUCKET}",
        )

    async def stop() -> None:
        await placer.registry.stop()
        for owned_bus in owned:
            await owned_bus.close()
        if geoip is not None:
            geoip.close()

    service.on_start(start)
    service.on_stop(stop)
    return placer
