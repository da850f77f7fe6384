"""Where is this peer? Resolved in a fixed order, first answer wins:

1. the client's hint: a region name (→ the region table, or the coordinates of the SFU nodes
   announcing that region) or explicit coordinates;
2. the CIDR table (RTK_GATEWAY_GEO_CIDRS), longest prefix first;
3. the GeoIP2/GeoLite2 City database (RTK_GATEWAY_GEOIP_DB), public addresses only;
4. the default region (RTK_GATEWAY_DEFAULT_REGION); without one the location stays unknown and
   the placer takes the least-loaded node.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.gateway.v1 import placement_pb2
from rtkit.logging import get_logger

from rtk_gateway.placement.geo import Coordinates, RegionTable

log = get_logger("rtk_gateway.placement")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class LocationHint:
    """What the client says about itself (all optional)."""

    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True, slots=True)
class Location:
    """A peer's resolved location. `coordinates` is None when nothing located it."""

    coordinates: Coordinates | None
    reason: int  # realtime.gateway.v1.PlacementReason
    source: str  # e.g. "hint:region=eu-west", "cidr:10.0.0.0/8", "geoip:DE", "default:us-east", "none"
    region: str = ""


def parse_ip(value: str | None) -> IpAddress | None:
    """A bare IP (IPv4-mapped IPv6 is unmapped); also accepts `[v6]:port` and `v4:port`."""
    if not value:
        return None
    text = value.strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        if text.startswith("[") and "]" in text:
            text = text[1 : text.index("]")]
        elif text.count(":") == 1:
            text = text.split(":", 1)[0]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class CidrEntry:
    network: IpNetwork
    coordinates: Coordinates
    region: str


class CidrTable:
    """CIDR → location; the most specific matching network wins."""

    def __init__(self, entries: list[CidrEntry]) -> None:
        self._entries = sorted(entries, key=lambda e: e.network.prefixlen, reverse=True)

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def parse(cls, value: str, regions: RegionTable) -> CidrTable:
        """RTK_GATEWAY_GEO_CIDRS: a JSON list, or a path to a file holding one. Each entry has
        `cidr` and either `lat`+`lon` or a `region` of the region table (or both: the
        coordinates win, the region is kept as a label)."""
        text = value.strip()
        if not text:
            return cls([])
        if not text.startswith("["):
            path = Path(text).expanduser()
            if not path.is_file():
                raise ValueError(f"RTK_GATEWAY_GEO_CIDRS: {text!r} is neither a JSON list nor a file")
            text = path.read_text()
        raw = json.loads(text)
        if not isinstance(raw, list):
            raise ValueError("RTK_GATEWAY_GEO_CIDRS must be a JSON list")
        entries = []
        for item in raw:
            if not isinstance(item, dict) or "cidr" not in item:
                raise ValueError(f"RTK_GATEWAY_GEO_CIDRS: entry {item!r} has no 'cidr'")
            network = ipaddress.ip_network(str(item["cidr"]).strip(), strict=False)
            region = str(item.get("region") or "")
            lat, lon = item.get("lat", item.get("latitude")), item.get("lon", item.get("longitude"))
            if lat is not None and lon is not None:
                coordinates = Coordinates(float(lat), float(lon))
            else:
                found = regions.get(region)
                if found is None:
                    raise ValueError(f"RTK_GATEWAY_GEO_CIDRS: {item['cidr']}: give lat/lon or a known region")
                coordinates = found
            entries.append(CidrEntry(network, coordinates, region))
        return cls(entries)

    def lookup(self, address: IpAddress) -> CidrEntry | None:
        for entry in self._entries:
            if entry.network.version == address.version and address in entry.network:
                return entry
        return None


class GeoIpDatabase:
    """A MaxMind GeoIP2/GeoLite2 City database (any .mmdb whose records have `location`)."""

    def __init__(self, path: str) -> None:
        import maxminddb

        if not Path(path).is_file():
            raise ValueError(f"RTK_GATEWAY_GEOIP_DB: no file {path!r}")
        self.path = path
        self._reader = maxminddb.open_database(path)

    def lookup(self, address: IpAddress) -> tuple[Coordinates, str] | None:
        try:
            record: Any = self._reader.get(str(address))
        except (ValueError, TypeError):  # e.g. an IPv6 address in an IPv4-only database
            return None
        if not isinstance(record, dict):
            return None
        location = record.get("location") or {}
        lat, lon = location.get("latitude"), location.get("longitude")
        if lat is None or lon is None:
            return None
        try:
            coordinates = Coordinates(float(lat), float(lon))
        except ValueError:
            return None
        country = (record.get("country") or record.get("registered_country") or {}).get("iso_code") or ""
        city = ((record.get("city") or {}).get("names") or {}).get("en") or ""
        label = "/".join(p for p in (country, city) if p) or "located"
        return coordinates, label

    def close(self) -> None:
        self._reader.close()


def _is_public(address: IpAddress) -> bool:
    return address.is_global and not address.is_multicast


class Locator:
    def __init__(
        self,
        regions: RegionTable,
        *,
        cidrs: CidrTable | None = None,
        geoip: GeoIpDatabase | None = None,
        default_region: str = "",
        region_of_nodes: Callable[[str], Coordinates | None] | None = None,
    ) -> None:
        self.regions = regions
        self.cidrs = cidrs or CidrTable([])
        self.geoip = geoip
        self.default_region = default_region.strip()
        self._region_of_nodes = region_of_nodes
        if self.default_region and self._region(self.default_region) is None and region_of_nodes is None:
            raise ValueError(f"RTK_GATEWAY_DEFAULT_REGION {self.default_region!r} is not in the region table")

    def _region(self, name: str) -> Coordinates | None:
        found = self.regions.get(name)
        if found is None and self._region_of_nodes is not None:
            found = self._region_of_nodes(name)
        return found

    def locate(self, ip: str | None = None, hint: LocationHint | None = None) -> Location:
        R = placement_pb2
        if hint is not None:
            if hint.latitude is not None and hint.longitude is not None:
                try:
                    coords = Coordinates(float(hint.latitude), float(hint.longitude))
                except (TypeError, ValueError):
                    log.info("placement_hint_ignored", reason="invalid coordinates")
                else:
                    return Location(coords, R.PLACEMENT_REASON_CLIENT_HINT_COORDINATES,
                                    f"hint:coordinates={coords.latitude:.2f},{coords.longitude:.2f}", hint.region or "")
            if hint.region:
                coords = self._region(hint.region)
                if coords is not None:
                    return Location(coords, R.PLACEMENT_REASON_CLIENT_HINT_REGION, f"hint:region={hint.region}",
                                    hint.region)
                log.info("placement_hint_ignored", reason="unknown region", region=hint.region[:64])
        address = parse_ip(ip)
        if address is not None:
            entry = self.cidrs.lookup(address)
            if entry is not None:
                return Location(entry.coordinates, R.PLACEMENT_REASON_CIDR_TABLE, f"cidr:{entry.network}", entry.region)
            if self.geoip is not None and _is_public(address):
                found = self.geoip.lookup(address)
                if found is not None:
                    return Location(found[0], R.PLACEMENT_REASON_GEOIP, f"geoip:{found[1]}")
        if self.default_region:
            coords = self._region(self.default_region)
            if coords is not None:
                return Location(coords, R.PLACEMENT_REASON_DEFAULT_REGION, f"default:{self.default_region}",
                                self.default_region)
        return Location(None, R.PLACEMENT_REASON_DEFAULT_REGION, "none")
