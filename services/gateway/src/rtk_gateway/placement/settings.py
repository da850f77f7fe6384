"""Placement settings (`RTK_GATEWAY_*`). GatewaySettings should inherit PlacementSettings so that
they are documented in docs/configuration.md; `install()` reads them from the environment when
the settings object it is given does not have them."""

from __future__ import annotations

from pydantic import Field
from rtkit.config import ServiceSettings


class PlacementSettings(ServiceSettings):
    gateway_default_region: str = Field(
        default="",
        description="Region assumed for a peer nothing else locates; empty = least-loaded node, distance ignored.",
    )
    gateway_regions: str = Field(
        default="",
        description='Region table additions/overrides: JSON {"eu-central": {"lat": 50.11, "lon": 8.68}} or '
        "eu-central:50.11:8.68,… (built in: common cloud regions).",
    )
    gateway_geo_cidrs: str = Field(
        default="",
        description='CIDR → location table: JSON list [{"cidr": "10.0.0.0/8", "region": "eu-central", '
        '"lat": 50.1, "lon": 8.7}] or a path to a file holding it; longest prefix wins.',
    )
    gateway_geoip_db: str = Field(
        default="", description="Path to a MaxMind GeoIP2/GeoLite2 City .mmdb file (optional)."
    )
    gateway_sfu_stale_seconds: float = Field(
        default=5.0, gt=0, description="An SFU node without a heartbeat for this long is unavailable."
    )
    gateway_placement_tie_km: float = Field(
        default=50.0,
        ge=0,
        description="Nodes within this many km of the nearest one count as equally near; the least loaded wins.",
    )
    gateway_placement_pin_ttl_seconds: float = Field(
        default=86_400.0, gt=0, description="Lifetime of a session's pin in the realtime_room_placement KV bucket."
    )
    gateway_sfu_node_prefix: str = Field(
        default="",
        description="Only SFU nodes whose id starts with this prefix are used (several stacks sharing one NATS); "
        "empty = every node.",
    )
    gateway_placement_kv: bool = Field(
        default=True, description="Share session pins through NATS KV (false: in-memory, one replica only)."
    )
