"""Several SFU processes on one machine, each announcing its own region (`RTK_SFU_REGIONS`).

    RTK_SFU_REGIONS=eu-central:50.11:8.68,us-east:39.04:-77.49,ap-south:19.08:72.88

Each comma-separated entry starts one SFU process: `region[:latitude:longitude]`. Without
coordinates the gateway takes the region's entry of its region table (built in: common cloud
regions, e.g. `eu-central`, `us-east-1`, `europe-west3`). Repeat an entry for several processes
in one region (ids get a `-2`, `-3`… suffix). `plan_sfu_regions()` turns the variable into one
`SfuInstance` per process: a name for the launcher and logs (`sfu-<region>`), its gRPC and
metrics ports, and the environment overrides (node id, region, coordinates, ports, UDP range).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: fixed-port layout (when the launcher does not pick free ports): clear of the services' 5005x/910x
GRPC_PORT_BASE = 50070
METRICS_PORT_BASE = 9170
UDP_PORT_BASE = 40000
UDP_PORTS_PER_NODE = 1000


@dataclass(frozen=True)
class SfuRegion:
    name: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class SfuInstance:
    """One SFU process to start (`python -m rtk_sfu serve` with `env` on top of the usual env)."""

    name: str  # launcher / log name, e.g. "sfu-eu-central"
    node_id: str
    region: SfuRegion
    grpc_port: int
    metrics_port: int
    env: dict[str, str] = field(default_factory=dict)


def parse_sfu_regions(value: str) -> list[SfuRegion]:
    """`eu-central:50.11:8.68,us-east` → [SfuRegion(...), ...]; ValueError on a malformed entry."""
    regions: list[SfuRegion] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        parts = [p.strip() for p in item.split(":")]
        name = parts[0]
        if not _NAME.match(name):
            raise ValueError(f"RTK_SFU_REGIONS: invalid region name {name!r} (letters, digits, '_' and '-')")
        if len(parts) == 1:
            regions.append(SfuRegion(name))
            continue
        if len(parts) != 3:
            raise ValueError(f"RTK_SFU_REGIONS: {item!r} is not region or region:latitude:longitude")
        try:
            lat, lon = float(parts[1]), float(parts[2])
        except ValueError:
            raise ValueError(f"RTK_SFU_REGIONS: {item!r}: latitude and longitude must be numbers") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ValueError(f"RTK_SFU_REGIONS: {item!r}: coordinates out of range")
        regions.append(SfuRegion(name, lat, lon))
    return regions


def plan_sfu_regions(
    value: str,
    *,
    pick_port: Callable[[int], int] | None = None,
    udp_ranges: bool = True,
    host: str = "127.0.0.1",
    node_id_prefix: str = "",
) -> list[SfuInstance]:
    """One SfuInstance per entry of `value` (empty → []).

    `pick_port(default)` returns the port to use given the fixed-layout default (the launcher's
    own picker: the default, or a free port in tests); without it the defaults are used.
    `udp_ranges`: give each process its own RTC UDP range (40000-40999, 41000-41999, …) so that
    their media ports never overlap; False leaves them ephemeral. `node_id_prefix` keeps node ids
    unique when several stacks share one NATS server (e.g. "t1a2-")."""
    if node_id_prefix and not _NAME.match(node_id_prefix):
        raise ValueError(f"invalid node id prefix {node_id_prefix!r}")
    pick = pick_port or (lambda default: default)
    instances: list[SfuInstance] = []
    seen: dict[str, int] = {}
    for index, region in enumerate(parse_sfu_regions(value)):
        seen[region.name] = seen.get(region.name, 0) + 1
        suffix = "" if seen[region.name] == 1 else f"-{seen[region.name]}"
        name = f"sfu-{region.name}{suffix}"
        grpc_port = pick(GRPC_PORT_BASE + index)
        metrics_port = pick(METRICS_PORT_BASE + index)
        node_id = f"{node_id_prefix}{name}"
        env = {
            "RTK_SFU_NODE_ID": node_id,
            "RTK_SFU_REGION": region.name,
            "RTK_GRPC_PORT": str(grpc_port),
            "RTK_METRICS_PORT": str(metrics_port),
            "RTK_SFU_ADVERTISED_ADDRESS": f"{host}:{grpc_port}",
            "RTK_SERVICE_NAME": "sfu",
        }
        if region.latitude is not None and region.longitude is not None:
            env["RTK_SFU_LATITUDE"] = repr(region.latitude)
            env["RTK_SFU_LONGITUDE"] = repr(region.longitude)
        if udp_ranges:
            low = UDP_PORT_BASE + index * UDP_PORTS_PER_NODE
            env["RTK_SFU_UDP_PORT_MIN"] = str(low)
            env["RTK_SFU_UDP_PORT_MAX"] = str(low + UDP_PORTS_PER_NODE - 1)
        instances.append(SfuInstance(name, node_id, region, grpc_port, metrics_port, env))
    return instances
