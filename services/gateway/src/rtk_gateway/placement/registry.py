"""Live view of the SFU nodes, fed by their heartbeats.

Subscribes to core NATS `realtime.sfu.v1.nodes.*.heartbeat` (realtime.events.v1.NodeHeartbeat).
A node is *stale* (unavailable) after 5 s without a heartbeat, timed on this process's monotonic
clock (senders' clocks are not trusted). Eligible for a new session: fresh, ACTIVE, with an
advertised address, and not full (load.peers < capacity_peers, and packets/s below
capacity_packets_per_second when set; 0 = no limit).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from nats.aio.msg import Msg
from prometheus_client import Gauge
from realtime.events.v1 import node_events_pb2
from realtime.sfu.v1 import node_pb2
from rtkit.logging import get_logger

from rtk_gateway.placement.geo import Coordinates, RegionTable

log = get_logger("rtk_gateway.placement")

HEARTBEAT_WILDCARD = "realtime.sfu.v1.nodes.*.heartbeat"
NODES = Gauge("rtk_gateway_sfu_nodes", "SFU nodes known to this gateway", ["status"])


def heartbeat_subject(node_id: str) -> str:
    return f"realtime.sfu.v1.nodes.{node_id}.heartbeat"


@dataclass(slots=True)
class NodeView:
    """The last heartbeat of one node and when it arrived."""

    node: node_pb2.SfuNode
    last_seen: float  # time.monotonic() at receipt
    coordinates: Coordinates | None

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def age(self, now: float) -> float:
        return now - self.last_seen

    @property
    def draining(self) -> bool:
        return self.node.state == node_pb2.NODE_STATE_DRAINING

    @property
    def full(self) -> bool:
        n = self.node
        if n.capacity_peers > 0 and n.load.peers >= n.capacity_peers:
            return True
        return n.capacity_packets_per_second > 0 and n.load.packets_per_second >= n.capacity_packets_per_second

    @property
    def load_ratio(self) -> float:
        """Fraction of capacity in use (the larger of peers and packets); peers count when no limit."""
        n = self.node
        ratios = []
        if n.capacity_peers > 0:
            ratios.append(n.load.peers / n.capacity_peers)
        if n.capacity_packets_per_second > 0:
            ratios.append(n.load.packets_per_second / n.capacity_packets_per_second)
        return max(ratios) if ratios else float(n.load.peers)


@dataclass(frozen=True, slots=True)
class Census:
    """Why nodes are (not) eligible, for logs and the NO_SFU_CAPACITY error."""

    known: int
    stale: int
    draining: int
    full: int
    eligible: int


class NodeRegistry:
    def __init__(
        self,
        *,
        regions: RegionTable | None = None,
        stale_after: float = 5.0,
        forget_after: float = 300.0,
        accept: Callable[[node_pb2.SfuNode], bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`accept` restricts the view to some nodes (e.g. one cluster's id prefix); `clock` is
        injectable for tests."""
        self.regions = regions or RegionTable()
        self.stale_after = stale_after
        self.forget_after = max(forget_after, stale_after)
        self._accept = accept
        self._clock = clock
        self._nodes: dict[str, NodeView] = {}
        self._lost: set[str] = set()
        self._changed = asyncio.Condition()
        self._subscription = None
        self._sweeper: asyncio.Task[None] | None = None
        self.started_at: float | None = None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, nc) -> None:  # noqa: ANN001 - nats.aio.client.Client
        self.started_at = self._clock()
        self._subscription = await nc.subscribe(HEARTBEAT_WILDCARD, cb=self._on_message)
        self._sweeper = asyncio.create_task(self._sweep_loop(), name="sfu-registry-sweep")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            try:
                await self._sweeper
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._sweeper = None
        if self._subscription is not None:
            try:
                await self._subscription.unsubscribe()
            except Exception:  # noqa: BLE001 - connection already closed
                pass
            self._subscription = None

    # -- input ----------------------------------------------------------------------------
    async def _on_message(self, msg: Msg) -> None:
        try:
            beat = node_events_pb2.NodeHeartbeat.FromString(msg.data)
        except Exception:  # noqa: BLE001 - garbage on the subject
            log.warning("sfu_heartbeat_invalid", subject=msg.subject)
            return
        parts = msg.subject.split(".")
        if len(parts) != 6 or parts[4] != beat.node.node_id:
            log.warning("sfu_heartbeat_mismatch", subject=msg.subject, node_id=beat.node.node_id)
            return
        await self.observe(beat.node)

    async def observe(self, node: node_pb2.SfuNode) -> None:
        """Record one heartbeat's node (also the entry point for tests)."""
        if not node.node_id or (self._accept is not None and not self._accept(node)):
            return
        now = self._clock()
        previous = self._nodes.get(node.node_id)
        view = NodeView(node=node, last_seen=now, coordinates=self._coordinates(node))
        self._nodes[node.node_id] = view
        if previous is None or node.node_id in self._lost:
            self._lost.discard(node.node_id)
            log.info("sfu_node_up", node_id=node.node_id, region=node.region, address=node.advertised_address,
                     state=node_pb2.NodeState.Name(node.state), capacity_peers=node.capacity_peers)
        elif previous.node.state != node.state:
            log.info("sfu_node_state", node_id=node.node_id, state=node_pb2.NodeState.Name(node.state))
        elif previous.node.start_time != node.start_time:
            log.info("sfu_node_restarted", node_id=node.node_id)
        async with self._changed:
            self._changed.notify_all()

    def _coordinates(self, node: node_pb2.SfuNode) -> Coordinates | None:
        if node.HasField("latitude") and node.HasField("longitude"):
            try:
                return Coordinates(node.latitude, node.longitude)
            except ValueError:
                return None
        return self.regions.get(node.region)

    # -- queries --------------------------------------------------------------------------
    def uptime(self) -> float | None:
        """Seconds since start() (None before)."""
        return None if self.started_at is None else self._clock() - self.started_at

    def get(self, node_id: str) -> NodeView | None:
        return self._nodes.get(node_id)

    def nodes(self) -> list[NodeView]:
        return list(self._nodes.values())

    def is_alive(self, view: NodeView, now: float | None = None) -> bool:
        return view.age(self._clock() if now is None else now) <= self.stale_after

    def live(self) -> list[NodeView]:
        now = self._clock()
        return [v for v in self._nodes.values() if self.is_alive(v, now)]

    def eligible(self) -> list[NodeView]:
        now = self._clock()
        return [
            v for v in self._nodes.values()
            if self.is_alive(v, now) and v.node.state == node_pb2.NODE_STATE_ACTIVE and not v.full
            and v.node.advertised_address
        ]

    def census(self) -> Census:
        now = self._clock()
        stale = draining = full = eligible = 0
        for v in self._nodes.values():
            if not self.is_alive(v, now):
                stale += 1
            elif v.node.state != node_pb2.NODE_STATE_ACTIVE:
                draining += 1
            elif v.full or not v.node.advertised_address:
                full += 1
            else:
                eligible += 1
        return Census(len(self._nodes), stale, draining, full, eligible)

    def region_coordinates(self, region: str) -> Coordinates | None:
        """Where the live nodes of `region` are (their first coordinates), for region hints the
        region table does not know."""
        for view in self.live():
            if view.node.region.lower() == region.lower() and view.coordinates is not None:
                return view.coordinates
        return None

    async def wait_for(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until `predicate()` holds after a heartbeat, or `within` seconds."""
        if predicate():
            return True
        try:
            async with asyncio.timeout(within):
                async with self._changed:
                    await self._changed.wait_for(predicate)
            return True
        except TimeoutError:
            return predicate()

    # -- housekeeping ---------------------------------------------------------------------
    def sweep(self) -> None:
        """Log nodes that went stale, forget long-gone ones, refresh the gauge."""
        now = self._clock()
        counts = {"eligible": 0, "stale": 0, "draining": 0, "full": 0}
        for node_id, view in list(self._nodes.items()):
            age = view.age(now)
            if age > self.forget_after:
                del self._nodes[node_id]
                self._lost.discard(node_id)
                continue
            if age > self.stale_after:
                counts["stale"] += 1
                if node_id not in self._lost:
                    self._lost.add(node_id)
                    log.warning("sfu_node_lost", node_id=node_id, region=view.node.region,
                                seconds_since_heartbeat=round(age, 1))
            elif view.node.state != node_pb2.NODE_STATE_ACTIVE:
                counts["draining"] += 1
            elif view.full:
                counts["full"] += 1
            else:
                counts["eligible"] += 1
        for status, value in counts.items():
            NODES.labels(status).set(value)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self.sweep()
            except Exception:  # noqa: BLE001
                log.exception("sfu_registry_sweep_failed")
