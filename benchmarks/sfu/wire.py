"""JSON-lines signaling between the load generator and the benchmark server (TCP, loopback)."""

from __future__ import annotations

import asyncio
import json
from typing import Any


async def send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write(json.dumps(obj).encode() + b"\n")
    await writer.drain()


async def recv(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    line = await reader.readline()
    if not line:
        return None
    return json.loads(line)


def loopback_ice() -> None:
    """aioice skips 127.0.0.1 when gathering; the benchmark runs on loopback only."""
    import aioice.ice
    import aioice.stun

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
    aioice.stun.RETRY_MAX = 2
    aioice.stun.RETRY_RTO = 0.1
