"""SFU settings (`RTK_*` environment variables, see docs/configuration.md).

Node presence (id, region, coordinates, capacity, heartbeats, drain) is read by `rtk_sfu.node`;
the ICE fields (`RTK_SFU_ANNOUNCED_IP`, `RTK_SFU_ICE_ADDRESSES`, `RTK_SFU_UDP_PORT_MIN/MAX`,
`RTK_SFU_STUN_URLS`, `RTK_SFU_TURN_SERVERS`) by the media engine through `ice_config()`.
"""

from __future__ import annotations

import json
import re
import socket
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator
from rtkit.config import ServiceSettings

if TYPE_CHECKING:
    from rtk_sfu.media import IceConfig

NODE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def default_node_id(port: int) -> str:
    """`<hostname>-<grpc port>`: unique per process even with host networking, where every SFU
    process of a machine shares the hostname but needs its own port."""
    host = re.sub(r"[^a-z0-9_-]+", "-", socket.gethostname().lower()).strip("-") or "sfu"
    return f"{host[:100]}-{port}"


def _csv(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("["):
        parsed = json.loads(value)
        return [str(v).strip() for v in parsed if str(v).strip()]
    return [v.strip() for v in value.split(",") if v.strip()]


class SfuSettings(ServiceSettings):
    """Settings of `python -m rtk_sfu`."""

    service_name: str = Field(default="sfu", description="Name used in logs, traces and metrics.")
    grpc_port: int = Field(default=50054, description="gRPC port (node control, media signaling).")

    # -- presence ------------------------------------------------------------------------------
    sfu_node_id: str = Field(
        default="",
        description="Node id, unique in the cluster ([A-Za-z0-9_-]); empty = `<hostname>-<grpc port>`.",
    )
    sfu_region: str = Field(default="local", description="Region name announced in heartbeats (e.g. eu-central).")
    sfu_latitude: float | None = Field(
        default=None, ge=-90, le=90, description="Latitude of the node; unset = the gateway's region table entry."
    )
    sfu_longitude: float | None = Field(
        default=None, ge=-180, le=180, description="Longitude of the node; unset = the gateway's region table entry."
    )
    sfu_advertised_address: str = Field(
        default="",
        description="host:port of this node's gRPC server for the control plane; empty = RTK_GRPC_HOST "
        "(or this host's IP when it binds 0.0.0.0) and the bound port.",
    )
    sfu_capacity_peers: int = Field(
        default=100, ge=0, description="Peers accepted before the node counts as full (0 = no limit)."
    )
    sfu_capacity_packets_per_second: float = Field(
        default=60_000.0,
        ge=0,
        description="Forwarded packets/s before the node counts as full (0 = no limit); one SFU process "
        "forwards ≈100k/s on a core (docs/benchmarks.md), the rest is headroom for handshakes and RTCP.",
    )
    sfu_heartbeat_interval_seconds: float = Field(
        default=2.0, gt=0, description="Heartbeat period on realtime.sfu.v1.nodes.<node_id>.heartbeat."
    )
    sfu_max_drain_seconds: float = Field(
        default=600.0,
        ge=0,
        description="On SIGTERM / DrainNode: longest wait for the node's sessions to end before stopping "
        "(keep terminationGracePeriodSeconds above it).",
    )

    # -- media control ------------------------------------------------------------------------
    sfu_speaker_interval_seconds: float = Field(
        default=0.3, gt=0, description="Active speaker evaluation period; activeSpeaker pushes are at most this frequent."
    )
    sfu_answer_timeout_seconds: float = Field(
        default=8.0, gt=0, description="Wait for a client's answer to the SFU's offer before pushing it again (3 tries)."
    )

    # -- ICE (read by the media engine) -------------------------------------------------------
    sfu_announced_ip: str = Field(
        default="", description="IP written into ICE host candidates (public IP behind NAT); empty = bound IPs."
    )
    sfu_ice_addresses: str = Field(
        default="", description="Comma-separated local IPs for host candidates; empty = every non-loopback IP."
    )
    sfu_udp_port_min: int = Field(default=0, ge=0, le=65535, description="Lowest RTC UDP port (0 = ephemeral).")
    sfu_udp_port_max: int = Field(default=0, ge=0, le=65535, description="Highest RTC UDP port (0 = ephemeral).")
    sfu_stun_urls: str = Field(
        default="", description="Comma-separated (or JSON list) stun:host:port for server-reflexive candidates."
    )
    sfu_turn_servers: str = Field(
        default="",
        description='JSON list of TURN servers: [{"urls": ["turn:host:3478"], "username": "u", "credential": "p"}].',
    )

    @field_validator("sfu_node_id")
    @classmethod
    def _check_node_id(cls, value: str) -> str:
        if value and not NODE_ID_RE.match(value):
            raise ValueError("RTK_SFU_NODE_ID may contain only letters, digits, '_' and '-' (at most 128)")
        return value

    @field_validator("sfu_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        if not NODE_ID_RE.match(value):
            raise ValueError("RTK_SFU_REGION may contain only letters, digits, '_' and '-'")
        return value

    @model_validator(mode="after")
    def _check_pairs(self) -> SfuSettings:
        if (self.sfu_latitude is None) != (self.sfu_longitude is None):
            raise ValueError("set both RTK_SFU_LATITUDE and RTK_SFU_LONGITUDE, or neither")
        if bool(self.sfu_udp_port_min) != bool(self.sfu_udp_port_max) or self.sfu_udp_port_max < self.sfu_udp_port_min:
            raise ValueError("RTK_SFU_UDP_PORT_MIN/MAX: set both, with MIN <= MAX (or neither)")
        self.turn_servers()  # fail at start, not at the first peer
        self.stun_urls()
        return self

    # -- derived values ------------------------------------------------------------------------
    def node_id(self, bound_port: int | None = None) -> str:
        return self.sfu_node_id or default_node_id(bound_port or self.grpc_port)

    def advertised_address(self, bound_port: int) -> str:
        if self.sfu_advertised_address:
            return self.sfu_advertised_address
        host = self.grpc_host
        if host in ("", "0.0.0.0", "::", "[::]"):
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = socket.gethostname()
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{host}:{bound_port}"

    def stun_urls(self) -> list[str]:
        urls = _csv(self.sfu_stun_urls) if self.sfu_stun_urls else []
        for url in urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ValueError(f"RTK_SFU_STUN_URLS: {url!r} is not a stun: URL")
        return urls

    def turn_servers(self) -> list[dict[str, Any]]:
        """TURN servers as dicts {urls: [..], username, credential}."""
        if not self.sfu_turn_servers.strip():
            return []
        try:
            raw = json.loads(self.sfu_turn_servers)
        except json.JSONDecodeError as exc:
            raise ValueError(f"RTK_SFU_TURN_SERVERS is not JSON: {exc}") from exc
        if isinstance(raw, dict):
            raw = [raw]
        servers = []
        for entry in raw:
            if not isinstance(entry, dict) or "urls" not in entry:
                raise ValueError("RTK_SFU_TURN_SERVERS: each entry needs 'urls'")
            urls = entry["urls"] if isinstance(entry["urls"], list) else [entry["urls"]]
            if not all(isinstance(u, str) and u.startswith(("turn:", "turns:")) for u in urls):
                raise ValueError("RTK_SFU_TURN_SERVERS: urls must be turn: or turns: URLs")
            servers.append({"urls": urls, "username": entry.get("username"), "credential": entry.get("credential")})
        return servers

    def ice_addresses(self) -> list[str]:
        return _csv(self.sfu_ice_addresses) if self.sfu_ice_addresses else []

    def ice_config(self) -> IceConfig:
        """The media engine's ICE configuration from these settings."""
        from aiortc import RTCIceServer

        from rtk_sfu.media import IceConfig

        return IceConfig(
            addresses=tuple(self.ice_addresses()),
            announced_address=self.sfu_announced_ip or None,
            port_min=self.sfu_udp_port_min,
            port_max=self.sfu_udp_port_max,
            stun_urls=tuple(self.stun_urls()),
            turn_servers=tuple(
                RTCIceServer(urls=s["urls"], username=s["username"], credential=s["credential"])
                for s in self.turn_servers()
            ),
        )
