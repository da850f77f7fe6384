"""Locator order (hint → CIDR table → GeoIP → default region), region table, CIDR table, GeoIP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mmdb_writer import city_record, write_mmdb
from realtime.gateway.v1 import placement_pb2 as P
from rtk_gateway.placement import (
    CidrTable,
    Coordinates,
    GeoIpDatabase,
    LocationHint,
    Locator,
    RegionTable,
    haversine_km,
)
from rtk_gateway.placement.geo import parse_regions
from rtk_gateway.placement.locator import parse_ip

FRANKFURT = Coordinates(50.11, 8.68)
ASHBURN = Coordinates(39.04, -77.49)
MUMBAI = Coordinates(19.08, 72.88)
LONDON = Coordinates(51.51, -0.13)


def test_haversine_known_distances() -> None:
    assert haversine_km(FRANKFURT, FRANKFURT) == 0
    # London–Frankfurt ≈ 637 km, Frankfurt–Ashburn ≈ 6,550 km, Frankfurt–Mumbai ≈ 6,580 km
    assert haversine_km(LONDON, FRANKFURT) == pytest.approx(637, abs=10)
    assert haversine_km(FRANKFURT, ASHBURN) == pytest.approx(6550, abs=60)
    assert haversine_km(FRANKFURT, MUMBAI) == pytest.approx(6580, abs=60)
    # symmetric, antipodes ≈ half the circumference
    assert haversine_km(ASHBURN, MUMBAI) == pytest.approx(haversine_km(MUMBAI, ASHBURN))
    assert haversine_km(Coordinates(0, 0), Coordinates(0, 180)) == pytest.approx(20015, abs=5)


def test_coordinates_are_validated() -> None:
    with pytest.raises(ValueError):
        Coordinates(91, 0)
    with pytest.raises(ValueError):
        Coordinates(0, -181)


def test_region_table_builtins_and_overrides() -> None:
    table = RegionTable(parse_regions('{"eu-central": {"lat": 1, "lon": 2}, "lab": [10, 20]}'))
    assert table.get("eu-central") == Coordinates(1, 2)  # override
    assert table.get("LAB") == Coordinates(10, 20)  # case-insensitive
    assert table.get("us-east-1") == ASHBURN and table.get("europe-west3") == FRANKFURT  # cloud ids
    assert table.get("westeurope") is not None and table.get("nowhere") is None
    assert parse_regions("a:1:2, b:-3.5:4") == {"a": Coordinates(1, 2), "b": Coordinates(-3.5, 4)}
    with pytest.raises(ValueError):
        parse_regions("a:1")
    with pytest.raises(ValueError):
        parse_regions('{"a": {"lat": 1}}')


def test_parse_ip_forms() -> None:
    assert str(parse_ip("81.2.69.160")) == "81.2.69.160"
    assert str(parse_ip("::ffff:10.1.2.3")) == "10.1.2.3"  # IPv4-mapped → IPv4
    assert str(parse_ip("[2001:db8::1]:443")) == "2001:db8::1"
    assert str(parse_ip("10.1.2.3:5000")) == "10.1.2.3"
    assert parse_ip("not-an-ip") is None and parse_ip(None) is None and parse_ip("") is None


def test_cidr_table_longest_prefix_and_regions(tmp_path: Path) -> None:
    regions = RegionTable()
    entries = [
        {"cidr": "10.0.0.0/8", "region": "eu-central"},
        {"cidr": "10.20.0.0/16", "lat": 19.08, "lon": 72.88, "region": "ap-lab"},
        {"cidr": "2001:db8::/32", "region": "us-east"},
    ]
    table = CidrTable.parse(json.dumps(entries), regions)
    assert table.lookup(parse_ip("10.1.1.1")).coordinates == FRANKFURT
    match = table.lookup(parse_ip("10.20.3.4"))
    assert match.coordinates == MUMBAI and str(match.network) == "10.20.0.0/16" and match.region == "ap-lab"
    assert table.lookup(parse_ip("2001:db8::5")).coordinates == ASHBURN
    assert table.lookup(parse_ip("11.0.0.1")) is None
    # a file path works too
    path = tmp_path / "cidrs.json"
    path.write_text(json.dumps(entries))
    assert len(CidrTable.parse(str(path), regions)) == 3
    with pytest.raises(ValueError):
        CidrTable.parse('[{"cidr": "10.0.0.0/8", "region": "atlantis"}]', regions)
    with pytest.raises(ValueError):
        CidrTable.parse(str(tmp_path / "missing.json"), regions)


@pytest.fixture
def geoip(tmp_path: Path) -> GeoIpDatabase:
    path = write_mmdb(
        tmp_path / "city.mmdb",
        {
            "81.2.69.0/24": city_record(51.51, -0.13, "GB", "London"),
            "2a02:6b8::/32": city_record(55.75, 37.62, "RU", "Moscow"),
            "10.0.0.0/8": city_record(0.0, 0.0, "ZZ", "Private"),  # never consulted: not public
        },
    )
    db = GeoIpDatabase(str(path))
    yield db
    db.close()


def test_geoip_lookup(geoip: GeoIpDatabase) -> None:
    coords, label = geoip.lookup(parse_ip("81.2.69.160"))
    assert coords == LONDON and label == "GB/London"
    assert geoip.lookup(parse_ip("2a02:6b8::1"))[1] == "RU/Moscow"
    assert geoip.lookup(parse_ip("8.8.8.8")) is None


def test_geoip_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        GeoIpDatabase(str(tmp_path / "nope.mmdb"))


def test_locator_order(geoip: GeoIpDatabase) -> None:
    regions = RegionTable()
    cidrs = CidrTable.parse('[{"cidr": "81.2.69.0/28", "region": "ap-south"}, {"cidr": "10.0.0.0/8", '
                            '"lat": 39.04, "lon": -77.49}]', regions)
    locator = Locator(regions, cidrs=cidrs, geoip=geoip, default_region="eu-central")

    # 1. client coordinates beat everything, then the client's region
    loc = locator.locate("81.2.69.1", LocationHint(region="ap-south", latitude=40.7, longitude=-74.0))
    assert loc.reason == P.PLACEMENT_REASON_CLIENT_HINT_COORDINATES and loc.coordinates == Coordinates(40.7, -74.0)
    loc = locator.locate("81.2.69.1", LocationHint(region="eu-west"))
    assert loc.reason == P.PLACEMENT_REASON_CLIENT_HINT_REGION and loc.source == "hint:region=eu-west"
    # 2. the CIDR table beats GeoIP (81.2.69.1 is in both)
    loc = locator.locate("81.2.69.1")
    assert loc.reason == P.PLACEMENT_REASON_CIDR_TABLE and loc.coordinates == MUMBAI
    assert loc.source == "cidr:81.2.69.0/28"
    # 3. GeoIP for a public address outside the table
    loc = locator.locate("81.2.69.160")
    assert loc.reason == P.PLACEMENT_REASON_GEOIP and loc.coordinates == LONDON and loc.source == "geoip:GB/London"
    # private addresses: CIDR table yes, GeoIP never
    assert locator.locate("10.9.9.9").reason == P.PLACEMENT_REASON_CIDR_TABLE
    loc = locator.locate("192.168.1.10")
    assert loc.reason == P.PLACEMENT_REASON_DEFAULT_REGION and loc.coordinates == FRANKFURT
    # 4. default region when nothing matches; unknown hint regions and junk fall through
    loc = locator.locate("8.8.8.8", LocationHint(region="atlantis"))
    assert loc.reason == P.PLACEMENT_REASON_DEFAULT_REGION and loc.source == "default:eu-central"
    assert locator.locate(None, LocationHint(latitude=200, longitude=0)).reason == P.PLACEMENT_REASON_DEFAULT_REGION
    assert locator.locate("garbage").source == "default:eu-central"


def test_locator_without_default_region_leaves_location_unknown() -> None:
    locator = Locator(RegionTable())
    loc = locator.locate("8.8.8.8")
    assert loc.coordinates is None and loc.reason == P.PLACEMENT_REASON_DEFAULT_REGION and loc.source == "none"


def test_unknown_region_hint_uses_the_nodes_of_that_region() -> None:
    locator = Locator(RegionTable(), region_of_nodes=lambda name: Coordinates(1, 2) if name == "lab-1" else None)
    loc = locator.locate(None, LocationHint(region="lab-1"))
    assert loc.reason == P.PLACEMENT_REASON_CLIENT_HINT_REGION and loc.coordinates == Coordinates(1, 2)


def test_default_region_must_be_known() -> None:
    with pytest.raises(ValueError):
        Locator(RegionTable(), default_region="atlantis")
