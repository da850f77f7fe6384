"""Shared helpers of the placement tests: SfuNode builders, a controllable clock, and real SFU
node processes (`python -m rtk_sfu serve`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from realtime.sfu.v1 import node_pb2
from rtk_cli.embedded import free_port

INTERNAL_TOKEN = "placement-test-token"


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_node(
    node_id: str,
    region: str = "eu-central",
    lat: float | None = None,
    lon: float | None = None,
    *,
    peers: int = 0,
    capacity: int = 100,
    pps: float = 0.0,
    capacity_pps: float = 0.0,
    state: int = node_pb2.NODE_STATE_ACTIVE,
    address: str | None = None,
) -> node_pb2.SfuNode:
    node = node_pb2.SfuNode(
        node_id=node_id,
        region=region,
        advertised_address=f"10.0.0.1:{abs(hash(node_id)) % 10000 + 40000}" if address is None else address,
        capacity_peers=capacity,
        capacity_packets_per_second=capacity_pps,
        state=state,
        load=node_pb2.NodeLoad(peers=peers, packets_per_second=pps),
    )
    if lat is not None and lon is not None:
        node.latitude, node.longitude = lat, lon
    return node


@dataclass
class SfuProcess:
    """One real SFU node process."""

    node_id: str
    region: str
    lat: float
    lon: float
    log_path: Path
    nats_url: str
    drain_seconds: float = 30.0
    grpc_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RTK_")}
        env.update(
            {
                "RTK_NATS_URL": self.nats_url,
                "RTK_GRPC_HOST": "127.0.0.1",
                "RTK_GRPC_PORT": str(self.grpc_port),
                "RTK_METRICS_PORT": "0",
                "RTK_INTERNAL_TOKEN": INTERNAL_TOKEN,
                "RTK_DRAIN_SECONDS": str(self.drain_seconds),
                "RTK_STOP_GRACE_SECONDS": "1",
                "RTK_LOG_FORMAT": "json",
                "RTK_SFU_NODE_ID": self.node_id,
                "RTK_SFU_REGION": self.region,
                "RTK_SFU_LATITUDE": str(self.lat),
                "RTK_SFU_LONGITUDE": str(self.lon),
                "RTK_SFU_CAPACITY_PEERS": "50",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def start(self) -> None:
        out = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rtk_sfu", "serve"], env=self.env(), stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
