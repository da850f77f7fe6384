"""Coordinates, great-circle distance and the region table (region name → coordinates).

Built-in entries cover the generic names used in this project's examples (`eu-central`,
`us-east`, `ap-south`, …) and the common AWS, Google Cloud and Azure region ids, each at the
metro area of its data centres (approximate: good to a few tens of km, which is all a
nearest-node choice needs). RTK_GATEWAY_REGIONS adds or overrides entries.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


@dataclass(frozen=True, slots=True)
class Coordinates:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.latitude <= 90.0) or not (-180.0 <= self.longitude <= 180.0):
            raise ValueError(f"coordinates out of range: {self.latitude}, {self.longitude}")
        if math.isnan(self.latitude) or math.isnan(self.longitude):
            raise ValueError("coordinates must be numbers")


def haversine_km(a: Coordinates, b: Coordinates) -> float:
    """Great-circle distance in km (haversine formula, spherical Earth)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


_C = Coordinates
_ASHBURN, _OHIO, _N_CAL, _OREGON = _C(39.04, -77.49), _C(39.96, -83.00), _C(37.34, -121.89), _C(45.84, -119.70)
_IOWA, _MONTREAL, _SAO_PAULO = _C(41.26, -95.86), _C(45.50, -73.57), _C(-23.55, -46.63)
_DUBLIN, _LONDON, _PARIS, _FRANKFURT = _C(53.35, -6.26), _C(51.51, -0.13), _C(48.86, 2.35), _C(50.11, 8.68)
_STOCKHOLM, _MILAN, _BAHRAIN, _UAE, _CAPE_TOWN = (
    _C(59.33, 18.07), _C(45.46, 9.19), _C(26.07, 50.56), _C(25.20, 55.27), _C(-33.92, 18.42)
)
_MUMBAI, _SINGAPORE, _SYDNEY, _TOKYO = _C(19.08, 72.88), _C(1.35, 103.82), _C(-33.87, 151.21), _C(35.68, 139.69)
_SEOUL, _OSAKA, _HONG_KONG, _TAIWAN = _C(37.57, 126.98), _C(34.69, 135.50), _C(22.32, 114.17), _C(24.07, 120.54)

BUILTIN_REGIONS: dict[str, Coordinates] = {
    # generic names
    "us-east": _ASHBURN, "us-central": _IOWA, "us-west": _OREGON, "ca-central": _MONTREAL,
    "sa-east": _SAO_PAULO, "eu-west": _DUBLIN, "uk-south": _LONDON, "eu-central": _FRANKFURT,
    "eu-north": _STOCKHOLM, "eu-south": _MILAN, "me-central": _UAE, "af-south": _CAPE_TOWN,
    "ap-south": _MUMBAI, "ap-southeast": _SINGAPORE, "ap-northeast": _TOKYO, "ap-east": _HONG_KONG,
    "au-southeast": _SYDNEY,
    # AWS
    "us-east-1": _ASHBURN, "us-east-2": _OHIO, "us-west-1": _N_CAL, "us-west-2": _OREGON,
    "ca-central-1": _MONTREAL, "sa-east-1": _SAO_PAULO, "eu-west-1": _DUBLIN, "eu-west-2": _LONDON,
    "eu-west-3": _PARIS, "eu-central-1": _FRANKFURT, "eu-north-1": _STOCKHOLM, "eu-south-1": _MILAN,
    "me-south-1": _BAHRAIN, "me-central-1": _UAE, "af-south-1": _CAPE_TOWN, "ap-south-1": _MUMBAI,
    "ap-southeast-1": _SINGAPORE, "ap-southeast-2": _SYDNEY, "ap-northeast-1": _TOKYO,
    "ap-northeast-2": _SEOUL, "ap-northeast-3": _OSAKA, "ap-east-1": _HONG_KONG,
    # Google Cloud
    "us-central1": _IOWA, "us-east1": _C(33.20, -80.01), "us-east4": _ASHBURN, "us-west1": _C(45.60, -121.18),
    "us-west2": _C(34.05, -118.24), "northamerica-northeast1": _MONTREAL, "southamerica-east1": _SAO_PAULO,
    "europe-west1": _C(50.45, 3.82), "europe-west2": _LONDON, "europe-west3": _FRANKFURT,
    "europe-west4": _C(53.44, 6.83), "europe-north1": _C(60.57, 27.20), "asia-south1": _MUMBAI,
    "asia-southeast1": _SINGAPORE, "asia-east1": _TAIWAN, "asia-east2": _HONG_KONG, "asia-northeast1": _TOKYO,
    "asia-northeast3": _SEOUL, "australia-southeast1": _SYDNEY,
    # Azure
    "eastus": _C(37.37, -79.82), "eastus2": _C(36.67, -78.39), "westus2": _C(47.23, -119.85),
    "centralus": _IOWA, "canadacentral": _C(43.65, -79.38), "brazilsouth": _SAO_PAULO,
    "northeurope": _DUBLIN, "westeurope": _C(52.37, 4.90), "uksouth": _LONDON, "francecentral": _PARIS,
    "germanywestcentral": _FRANKFURT, "swedencentral": _C(60.67, 17.14), "uaenorth": _UAE,
    "southafricanorth": _C(-26.20, 28.05), "centralindia": _C(18.52, 73.86), "southeastasia": _SINGAPORE,
    "eastasia": _HONG_KONG, "japaneast": _TOKYO, "koreacentral": _SEOUL, "australiaeast": _SYDNEY,
}

_REGION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def parse_region_list(text: str) -> dict[str, Coordinates]:
    """`name:lat:lon,name:lat:lon` (the RTK_SFU_REGIONS form) → {name: Coordinates}."""
    regions: dict[str, Coordinates] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, rest = item.partition(":")
        lat, sep2, lon = rest.partition(":")
        if not sep or not sep2:
            raise ValueError(f"region entry {item!r} is not name:lat:lon")
        regions[_region_name(name)] = Coordinates(float(lat), float(lon))
    return regions


def parse_regions(text: str) -> dict[str, Coordinates]:
    """RTK_GATEWAY_REGIONS: a JSON object {"name": {"lat": .., "lon": ..}} (or [lat, lon]), or the
    compact `name:lat:lon,…` form."""
    text = text.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        return parse_region_list(text)
    raw = json.loads(text)
    regions: dict[str, Coordinates] = {}
    for name, value in raw.items():
        if isinstance(value, dict):
            lat, lon = value.get("lat", value.get("latitude")), value.get("lon", value.get("longitude"))
        elif isinstance(value, list | tuple) and len(value) == 2:
            lat, lon = value
        else:
            raise ValueError(f"region {name!r}: expected {{'lat': .., 'lon': ..}} or [lat, lon]")
        if lat is None or lon is None:
            raise ValueError(f"region {name!r}: lat and lon are required")
        regions[_region_name(name)] = Coordinates(float(lat), float(lon))
    return regions


def _region_name(name: str) -> str:
    name = name.strip()
    if not _REGION_NAME.match(name):
        raise ValueError(f"invalid region name {name!r}")
    return name


class RegionTable:
    """Region name → coordinates; names match case-insensitively."""

    def __init__(self, extra: dict[str, Coordinates] | None = None, *, builtin: bool = True) -> None:
        self._regions: dict[str, Coordinates] = {}
        for name, coords in {**(BUILTIN_REGIONS if builtin else {}), **(extra or {})}.items():
            self._regions[name.lower()] = coords

    def get(self, name: str | None) -> Coordinates | None:
        return self._regions.get(name.strip().lower()) if name else None

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __len__(self) -> int:
        return len(self._regions)
