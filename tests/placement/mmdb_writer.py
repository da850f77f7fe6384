"""A minimal MaxMind DB (MMDB v2) writer for tests: an IPv6 search tree (IPv4 under ::/96),
32-bit records, and the data types a GeoIP2 City record needs (map, string, double, unsigned
ints, array, boolean). PyPI's `maxminddb` only reads; this avoids a writer dependency.

Format: https://maxmind.github.io/MaxMind-DB/ (search tree, 16-byte separator, data section,
metadata marker + metadata map).
"""

from __future__ import annotations

import ipaddress
import struct
import time
from pathlib import Path
from typing import Any

_METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


def _control(type_id: int, size: int) -> bytes:
    if size < 29:
        head, extra = size, b""
    elif size < 29 + 256:
        head, extra = 29, bytes([size - 29])
    elif size < 285 + 65536:
        head, extra = 30, struct.pack(">H", size - 285)
    else:
        head, extra = 31, struct.pack(">I", size - 65821)[1:]
    if type_id <= 7:
        return bytes([(type_id << 5) | head]) + extra
    return bytes([head, type_id - 7]) + extra


def _uint(type_id: int, value: int, width: int) -> bytes:
    payload = value.to_bytes(width, "big").lstrip(b"\x00")
    return _control(type_id, len(payload)) + payload


class Uint16(int):
    """An int to encode as uint16 (metadata fields that readers expect as such)."""


class Uint64(int):
    """An int to encode as uint64."""


def encode(value: Any) -> bytes:
    """One value in the MMDB data format (plain ints become uint32, or uint64 when larger)."""
    if isinstance(value, Uint16):
        return _uint(5, value, 2)
    if isinstance(value, Uint64):
        return _uint(9, value, 8)
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, float):
        return _control(3, 8) + struct.pack(">d", value)
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative integers are not supported")
        if value < 1 << 32:
            return _uint(6, value, 4)
        return _uint(9, value, 8)
    if isinstance(value, dict):
        out = _control(7, len(value))
        for key, item in value.items():
            out += encode(str(key)) + encode(item)
        return out
    if isinstance(value, list | tuple):
        out = _control(11, len(value))
        for item in value:
            out += encode(item)
        return out
    raise TypeError(f"cannot encode {type(value).__name__}")


def write_mmdb(path: Path, records: dict[str, dict[str, Any]], *, database_type: str = "GeoLite2-City") -> Path:
    """Write `records` ({"81.2.69.0/24": {...GeoIP2 City record...}, ...}) to `path`."""
    # search tree: nodes[i] = [left, right]; a record is None, ("node", i) or ("data", offset)
    nodes: list[list[tuple[str, int] | None]] = [[None, None]]
    data = b""
    offsets: dict[bytes, int] = {}
    for cidr, record in records.items():
        network = ipaddress.ip_network(cidr, strict=False)
        if network.version == 4:
            bits, prefix = int(network.network_address), 96 + network.prefixlen
        else:
            bits, prefix = int(network.network_address), network.prefixlen
        encoded = encode(record)
        if encoded not in offsets:
            offsets[encoded] = len(data)
            data += encoded
        target = ("data", offsets[encoded])
        node = 0
        for depth in range(prefix):
            bit = (bits >> (127 - depth)) & 1
            if depth == prefix - 1:
                nodes[node][bit] = target
                break
            child = nodes[node][bit]
            if child is None or child[0] == "data":  # descend, pushing a shorter prefix's data down
                nodes.append([child, child])
                nodes[node][bit] = ("node", len(nodes) - 1)
                child = nodes[node][bit]
            node = child[1]
    node_count = len(nodes)

    def value(record: tuple[str, int] | None) -> int:
        if record is None:
            return node_count
        if record[0] == "node":
            return record[1]
        return node_count + 16 + record[1]

    tree = b"".join(struct.pack(">II", value(left), value(right)) for left, right in nodes)
    metadata = {
        "node_count": node_count,
        "record_size": Uint16(32),
        "ip_version": Uint16(6),
        "database_type": database_type,
        "languages": ["en"],
        "binary_format_major_version": Uint16(2),
        "binary_format_minor_version": Uint16(0),
        "build_epoch": Uint64(int(time.time())),
        "description": {"en": "test database"},
    }
    meta = encode(metadata)
    path.write_bytes(tree + b"\x00" * 16 + data + _METADATA_MARKER + meta)
    return path


def city_record(lat: float, lon: float, country: str, city: str) -> dict[str, Any]:
    """A GeoIP2 City record with the fields the locator reads."""
    return {
        "city": {"names": {"en": city}},
        "country": {"iso_code": country, "names": {"en": country}},
        "location": {"latitude": float(lat), "longitude": float(lon), "accuracy_radius": 20},
    }
