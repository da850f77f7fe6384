"""ICE configuration of the SFU's peer connections.

aiortc builds one ``aioice.Connection`` per ICE transport and gathers on every local address
with an ephemeral port. For a server we want: host candidates on configured addresses only
(loopback allowed), UDP ports from a fixed range (firewall rules), an announced public IP
(NAT / container port mapping), optional STUN (server-reflexive) and TURN (relayed) candidates.
This module replaces ``Connection.get_component_candidates`` on each SFU-side connection
(an instance attribute, so other connections in the process are untouched).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

import aioice.ice
from aioice import turn
from aioice.candidate import Candidate, candidate_foundation, candidate_priority
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer


@dataclass(frozen=True)
class IceConfig:
    """How the SFU gathers ICE candidates.

    - ``addresses``: local IPs to bind host candidates on; empty = every non-loopback address
      (aioice's default discovery). ``"127.0.0.1"`` is allowed (tests, single-host setups).
    - ``announced_address``: IP written into the SDP instead of the bound address of host
      candidates (mediasoup's ``announcedIp``), e.g. the public IP of a NAT'd VM.
    - ``port_min``/``port_max``: inclusive UDP port range for host candidates (0 = ephemeral).
    - ``stun_urls``: ``stun:host:port`` for server-reflexive candidates (off by default: a
      server normally knows its address, and an unreachable STUN server delays gathering).
    - ``turn_servers``: ``RTCIceServer`` entries with ``turn:`` URLs and credentials.
    """

    addresses: Sequence[str] = ()
    announced_address: str | None = None
    port_min: int = 0
    port_max: int = 0
    stun_urls: Sequence[str] = ()
    turn_servers: Sequence[RTCIceServer] = field(default_factory=tuple)
    gather_timeout: float = 5.0

    def rtc_configuration(self) -> RTCConfiguration:
        servers = [RTCIceServer(urls=list(self.stun_urls))] if self.stun_urls else []
        servers += list(self.turn_servers)
        # An empty list, not None: None means Google's public STUN server.
        # max-bundle: with aiortc's default (balanced) policy a second transceiver of the same
        # kind in an initial offer stays on a per-kind transport that the BUNDLE answer never
        # replaces (aiortc 1.16 only re-homes transceivers not yet marked bundled), so it never
        # connects. Every WebRTC client we serve bundles.
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


class PortAllocator:
    """Binds UDP sockets in ``[port_min, port_max]``, starting at a rotating random cursor."""

    def __init__(self, port_min: int, port_max: int) -> None:
        if port_min and port_max and port_max < port_min:
            raise ValueError("port_max < port_min")
        self.port_min = port_min
        self.port_max = port_max
        self._cursor = random.randint(port_min, port_max) if port_min and port_max else 0

    def bind(self, address: str) -> socket.socket:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        if not (self.port_min and self.port_max):
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.bind((address, 0))
            return sock
        span = self.port_max - self.port_min + 1
        for _ in range(span):
            port = self._cursor
            self._cursor = self.port_min + ((self._cursor - self.port_min + 1) % span)
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind((address, port))
                return sock
            except OSError:
                sock.close()
        raise OSError(f"no free UDP port in {self.port_min}-{self.port_max} on {address}")


def configure_connection(connection: aioice.ice.Connection, config: IceConfig, ports: PortAllocator) -> None:
    """Make ``connection`` gather according to ``config``. Idempotent; call before gathering."""
    if getattr(connection, "_rtk_configured", False):
        return
    connection._rtk_configured = True  # type: ignore[attr-defined]

    # same signature as aioice.ice.Connection.get_component_candidates
    async def get_component_candidates(
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109
    ) -> list[Candidate]:
        loop = asyncio.get_running_loop()
        wanted = list(config.addresses) or addresses
        candidates: list[Candidate] = []
        host_protocols = []
        for address in wanted:
            try:
                sock = ports.bind(address)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, turn.UDP_SOCKET_BUFFER_SIZE)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, turn.UDP_SOCKET_BUFFER_SIZE)
                _, protocol = await loop.create_datagram_endpoint(
                    lambda: aioice.ice.StunProtocol(connection), sock=sock
                )
            except OSError:
                continue
            host, port = protocol.transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=port,
                type="host",
            )
            host_protocols.append(protocol)
            candidates.append(protocol.local_candidate)
        connection._protocols += host_protocols

        tasks = []
        if connection.stun_server:
            for protocol in host_protocols:
                if ipaddress.ip_address(protocol.local_candidate.host).version == 4:
                    tasks.append(
                        asyncio.create_task(
                            aioice.ice.server_reflexive_candidate(protocol, connection.stun_server)
                        )
                    )
        if connection.turn_server:
            tasks.append(
                asyncio.create_task(
                    aioice.ice.relayed_candidate(
                        component=component,
                        hide_related_address=connection._transport_policy == aioice.ice.TransportPolicy.RELAY,
                        protocol_factory=lambda: aioice.ice.StunProtocol(connection),
                        turn_server=connection.turn_server,
                        turn_username=connection.turn_username,
                        turn_password=connection.turn_password,
                        turn_ssl=connection.turn_ssl,
                        turn_transport=connection.turn_transport,
                    )
                )
            )
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=config.gather_timeout)
            for task in done:
                if task.exception() is None:
                    candidate, relay_protocol = task.result()
                    candidates.append(candidate)
                    if relay_protocol is not None:
                        connection._protocols.append(relay_protocol)
            for task in pending:
                task.cancel()
        return candidates

    connection.get_component_candidates = get_component_candidates  # type: ignore[method-assign]


_CANDIDATE_RE = re.compile(r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ host.*)$", re.MULTILINE)
_CLINE_RE = re.compile(r"^c=IN IP(4|6) (\S+)$", re.MULTILINE)


def announce_address(sdp: str, bound: Sequence[str], announced: str | None) -> str:
    """Rewrite host candidates (and the c= line) from a bound address to the announced one."""
    if not announced:
        return sdp
    bound_set = set(bound)

    def cand(m: re.Match[str]) -> str:
        if not bound_set or m.group(2) in bound_set:
            return m.group(1) + announced + m.group(3)
        return m.group(0)

    version = "6" if ":" in announced else "4"

    def cline(m: re.Match[str]) -> str:
        if not bound_set or m.group(2) in bound_set:
            return f"c=IN IP{version} {announced}"
        return m.group(0)

    return _CLINE_RE.sub(cline, _CANDIDATE_RE.sub(cand, sdp))
