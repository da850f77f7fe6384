"""The node's presence in the cluster: heartbeats with live load, and draining.

Every `RTK_SFU_HEARTBEAT_INTERVAL_SECONDS` (2 s) the agent publishes a
`realtime.events.v1.NodeHeartbeat` on core NATS `realtime.sfu.v1.nodes.<node_id>.heartbeat`, and
at once when its state changes. Draining (SIGTERM or SfuNodeService.DrainNode) publishes
DRAINING immediately, so the gateways stop placing sessions here, then waits until the node has
no peer left or `RTK_SFU_MAX_DRAIN_SECONDS` pass; the service then stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import Counter, Gauge
from realtime.events.v1 import node_events_pb2
from realtime.sfu.v1 import node_pb2
from rtkit.logging import get_logger

from rtk_sfu.node.load import LoadSource, NodeLoad
from rtk_sfu.settings import SfuSettings

log = get_logger("rtk_sfu.node")

HEARTBEATS = Counter("rtk_sfu_heartbeats_total", "Node heartbeats published", ["result"])
DRAINING = Gauge("rtk_sfu_node_draining", "1 while the node drains")
PEERS = Gauge("rtk_sfu_node_peers", "Peers on the node at the last heartbeat")


def heartbeat_subject(node_id: str) -> str:
    """`realtime.sfu.v1.nodes.<node_id>.heartbeat` (conventions: Events)."""
    return f"realtime.sfu.v1.nodes.{node_id}.heartbeat"


Publish = Callable[[str, bytes], Awaitable[None]]
Flush = Callable[[], Awaitable[None]]


class NodeAgent:
    """Identity, state and heartbeats of this SFU process."""

    def __init__(self, settings: SfuSettings, load: LoadSource, *, port: Callable[[], int | None]) -> None:
        self.settings = settings
        self.load_source = load
        self._port = port
        self.node_id = settings.sfu_node_id  # final once the gRPC port is bound (see bind())
        self.advertised_address = ""
        self.state = node_pb2.NODE_STATE_ACTIVE
        self.drain_reason = ""
        self.start_time = Timestamp()
        self.start_time.GetCurrentTime()
        self._last_load = NodeLoad()
        self._publish: Publish | None = None
        self._flush: Flush | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._bound = asyncio.Event()
        self._failing = False

    # -- identity and snapshot ------------------------------------------------------------
    @property
    def draining(self) -> bool:
        return self.state == node_pb2.NODE_STATE_DRAINING

    @property
    def bound(self) -> bool:
        return self._bound.is_set()

    def bind(self, port: int) -> None:
        """Fix the node id and advertised address once the gRPC port is known."""
        self.node_id = self.settings.node_id(port)
        self.advertised_address = self.settings.advertised_address(port)
        self._bound.set()

    def current_load(self) -> NodeLoad:
        try:
            self._last_load = self.load_source.load()
        except Exception:  # noqa: BLE001 - a faulty source must not stop the heartbeats
            log.exception("sfu_load_failed", node_id=self.node_id)
        return self._last_load

    def snapshot(self, load: NodeLoad | None = None) -> node_pb2.SfuNode:
        s = self.settings
        load = load or self._last_load
        node = node_pb2.SfuNode(
            node_id=self.node_id,
            region=s.sfu_region,
            advertised_address=self.advertised_address,
            public_ip=s.sfu_announced_ip,
            capacity_peers=s.sfu_capacity_peers,
            capacity_packets_per_second=s.sfu_capacity_packets_per_second,
            state=self.state,
            load=node_pb2.NodeLoad(
                peers=load.peers,
                tracks=load.tracks,
                packets_per_second=load.packets_per_second,
                cpu_percent=load.cpu_percent,
            ),
        )
        if s.sfu_latitude is not None and s.sfu_longitude is not None:
            node.latitude = s.sfu_latitude
            node.longitude = s.sfu_longitude
        node.start_time.CopyFrom(self.start_time)
        return node

    # -- heartbeats ---------------------------------------------------------------------------
    def start(self, publish: Publish, flush: Flush | None = None) -> None:
        self._publish, self._flush = publish, flush
        self._task = asyncio.create_task(self._run(), name="sfu-heartbeat")

    async def _run(self) -> None:
        while (port := self._port()) is None:  # noqa: ASYNC110 - announce once the gRPC server listens
            await asyncio.sleep(0.01)
        self.bind(port)
        s = self.settings
        log.info(
            "sfu_node_started", node_id=self.node_id, region=s.sfu_region, advertised_address=self.advertised_address,
            capacity_peers=s.sfu_capacity_peers, latitude=s.sfu_latitude, longitude=s.sfu_longitude,
        )
        interval = s.sfu_heartbeat_interval_seconds
        while True:
            await self.publish_now()
            try:
                await asyncio.wait_for(self._wake.wait(), interval)
            except TimeoutError:
                pass
            self._wake.clear()

    async def publish_now(self, *, flush: bool = False) -> bool:
        """Publish one heartbeat now (with fresh load); True when handed to NATS."""
        if self._publish is None or not self.bound:
            return False
        load = self.current_load()
        PEERS.set(load.peers)
        beat = node_events_pb2.NodeHeartbeat(node=self.snapshot(load))
        beat.sent_time.GetCurrentTime()
        try:
            await self._publish(heartbeat_subject(self.node_id), beat.SerializeToString())
            if flush and self._flush is not None:
                await self._flush()
        except Exception as exc:  # noqa: BLE001 - NATS down: keep trying every interval
            HEARTBEATS.labels("error").inc()
            if not self._failing:
                log.warning("sfu_heartbeat_failed", node_id=self.node_id, error=str(exc) or type(exc).__name__)
            self._failing = True
            return False
        if self._failing:
            log.info("sfu_heartbeat_recovered", node_id=self.node_id)
            self._failing = False
        HEARTBEATS.labels("ok").inc()
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._task = None

    # -- draining -----------------------------------------------------------------------------
    def begin_drain(self, reason: str) -> bool:
        """Switch to DRAINING (idempotent); the heartbeat loop publishes it at once."""
        if self.draining:
            return False
        self.state = node_pb2.NODE_STATE_DRAINING
        self.drain_reason = reason
        DRAINING.set(1)
        self._wake.set()
        log.info("sfu_node_draining", node_id=self.node_id, reason=reason, peers=self._last_load.peers)
        return True

    async def drain(self, reason: str, max_seconds: float, poll: float = 0.25) -> bool:
        """Drain: DRAINING published now, then wait until no peer is left or `max_seconds`.

        Returns True when the node emptied, False when the time ran out."""
        self.begin_drain(reason)
        if self.bound:
            await self.publish_now(flush=True)
        started = time.monotonic()
        while True:
            peers = self.current_load().peers
            if peers <= 0:
                log.info("sfu_node_drained", node_id=self.node_id, seconds=round(time.monotonic() - started, 2))
                return True
            if time.monotonic() - started >= max_seconds:
                log.warning("sfu_drain_timeout", node_id=self.node_id, peers=peers, max_seconds=max_seconds)
                return False
            await asyncio.sleep(poll)
