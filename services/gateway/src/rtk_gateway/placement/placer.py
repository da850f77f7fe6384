"""Choose the SFU node for a session: nearest healthy node, least loaded among equally near ones,
and the same node for every later peer of the session while that node lives and is ACTIVE."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from prometheus_client import Counter
from realtime.gateway.v1 import placement_pb2
from realtime.sfu.v1 import node_pb2
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_gateway.placement.geo import haversine_km
from rtk_gateway.placement.locator import Location, LocationHint, Locator
from rtk_gateway.placement.pins import PinStore
from rtk_gateway.placement.registry import NodeRegistry, NodeView

log = get_logger("rtk_gateway.placement")

PLACEMENTS = Counter("rtk_gateway_placements_total", "SFU placement decisions", ["reason"])
NO_CAPACITY = Counter("rtk_gateway_placement_failures_total", "Placements refused with NO_SFU_CAPACITY")

_REASON_NAMES = {v: k.removeprefix("PLACEMENT_REASON_") for k, v in placement_pb2.PlacementReason.items()}
_CAS_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class Ranked:
    view: NodeView
    distance_km: float | None  # None when the peer's or the node's location is unknown


class Placer:
    def __init__(
        self,
        registry: NodeRegistry,
        locator: Locator,
        pins: PinStore,
        *,
        tie_km: float = 50.0,
        warmup_seconds: float = 2.5,
    ) -> None:
        """`warmup_seconds`: right after start the registry has not heard every node yet; for
        that long a decision waits for heartbeats instead of failing, re-placing a pinned
        session or choosing among the nodes heard so far (one heartbeat interval plus a margin)."""
        self.registry = registry
        self.locator = locator
        self.pins = pins
        self.tie_km = tie_km
        self.warmup_seconds = warmup_seconds

    # -- public API ---------------------------------------------------------------------------
    async def place(self, session_id: str, *, ip: str | None = None, hint: LocationHint | None = None
                    ) -> placement_pb2.Placement:
        """Locate the peer (hint, CIDR table, GeoIP, default region) and choose its session's node."""
        return await self.choose(session_id, self.locator.locate(ip, hint))

    async def choose(self, session_id: str, location: Location) -> placement_pb2.Placement:
        """The session's node: its pinned node while that is alive and ACTIVE; otherwise the
        nearest eligible node, pinned for the session's later peers. Raises
        ApiError(NO_SFU_CAPACITY) when no node is eligible."""
        if not session_id:
            raise ApiError("INVALID_FIELD", "session_id is required.", field_violations=[("session_id", "required")])
        for _ in range(_CAS_ATTEMPTS):
            pin = await self.pins.get(session_id)
            previous_node_id = ""
            if pin is not None:
                pinned = pin.placement
                view = await self._pinned_view(pinned.node_id)
                if view is not None:
                    return self._pinned(session_id, pinned, view, location)
                previous_node_id = pinned.node_id
            placement = self._new_placement(session_id, await self._best(session_id, location), location,
                                            previous_node_id)
            if pin is None:
                stored = await self.pins.create(session_id, placement)
            else:
                stored = await self.pins.replace(session_id, placement, pin)
            if stored:
                self._log(placement, location)
                return placement
            # another gateway replica placed the session meanwhile: read its decision
        log.warning("placement_pin_contended", session_id=session_id)
        self._log(placement, location)
        return placement

    async def release(self, session_id: str) -> None:
        """Forget the session's pin (call when the session ends)."""
        await self.pins.delete(session_id)

    def rank(self, location: Location, candidates: list[NodeView]) -> list[Ranked]:
        """Candidates best first: the nodes within `tie_km` of the nearest one by load (then
        distance, then id), then the others by distance; by load alone when the peer's location
        is unknown; nodes of unknown location after every located one."""
        if location.coordinates is None:
            return [Ranked(v, None) for v in sorted(candidates, key=lambda v: (v.load_ratio, v.node_id))]
        distances = {
            v.node_id: haversine_km(location.coordinates, v.coordinates) if v.coordinates is not None else math.inf
            for v in candidates
        }
        nearest = min(distances.values(), default=math.inf)
        limit = nearest + self.tie_km

        def key(v: NodeView) -> tuple[int, float, float, str]:
            d = distances[v.node_id]
            if d <= limit:
                return (0, v.load_ratio, d, v.node_id)
            return (1, d, v.load_ratio, v.node_id)

        ordered = sorted(candidates, key=key)
        return [Ranked(v, None if math.isinf(distances[v.node_id]) else distances[v.node_id]) for v in ordered]

    # -- internals ------------------------------------------------------------------------------
    def _warming_up(self) -> float:
        """Seconds of warm-up left (0 when over)."""
        uptime = self.registry.uptime()
        return 0.0 if uptime is None else max(0.0, self.warmup_seconds - uptime)

    async def _pinned_view(self, node_id: str) -> NodeView | None:
        """The pinned node if it is alive and ACTIVE (waiting out the warm-up for its heartbeat)."""

        def usable() -> bool:
            view = self.registry.get(node_id)
            return view is not None and self.registry.is_alive(view) and view.node.state == node_pb2.NODE_STATE_ACTIVE

        if not usable() and self.registry.get(node_id) is None and (left := self._warming_up()) > 0:
            await self.registry.wait_for(usable, left)
        return self.registry.get(node_id) if usable() else None

    async def _best(self, session_id: str, location: Location) -> Ranked:
        if (left := self._warming_up()) > 0:
            # Not every live node has been heard yet, so the nearest one may be missing from the
            # ranking: a new session waits out the warm-up (one heartbeat interval) to see them all.
            log.info("placement_warming_up", session_id=session_id, wait_seconds=round(left, 3))
            await asyncio.sleep(left)
        candidates = self.registry.eligible()
        if not candidates:
            census = self.registry.census()
            NO_CAPACITY.inc()
            log.warning("placement_no_capacity", session_id=session_id, nodes_known=census.known,
                        nodes_stale=census.stale, nodes_draining=census.draining, nodes_full=census.full)
            raise ApiError(
                "NO_SFU_CAPACITY",
                "No media server can take this session now; retry shortly.",
                sessionId=session_id, nodesKnown=census.known, nodesStale=census.stale,
                nodesDraining=census.draining, nodesFull=census.full,
            )
        return self.rank(location, candidates)[0]

    @staticmethod
    def _distance(location: Location, view: NodeView) -> float:
        if location.coordinates is None or view.coordinates is None:
            return -1.0
        return round(haversine_km(location.coordinates, view.coordinates), 1)

    def _new_placement(self, session_id: str, best: Ranked, location: Location, previous_node_id: str
                       ) -> placement_pb2.Placement:
        node = best.view.node
        placement = placement_pb2.Placement(
            node_id=node.node_id,
            region=node.region,
            advertised_address=node.advertised_address,
            distance_km=self._distance(location, best.view),
            reason=location.reason,
            location_source=location.source,
            session_id=session_id,
            previous_node_id=previous_node_id,
        )
        placement.place_time.GetCurrentTime()
        return placement

    def _pinned(self, session_id: str, pinned: placement_pb2.Placement, view: NodeView, location: Location
                ) -> placement_pb2.Placement:
        placement = placement_pb2.Placement(
            node_id=view.node_id,
            region=view.node.region,
            advertised_address=view.node.advertised_address,  # the live one, should it have changed
            distance_km=self._distance(location, view),
            reason=placement_pb2.PLACEMENT_REASON_SESSION_PINNED,
            location_source=location.source,
            session_id=session_id,
        )
        placement.place_time.CopyFrom(pinned.place_time)
        self._log(placement, location)
        return placement

    def _log(self, placement: placement_pb2.Placement, location: Location) -> None:
        reason = _REASON_NAMES.get(placement.reason, "UNSPECIFIED")
        PLACEMENTS.labels(reason).inc()
        fields = dict(
            session_id=placement.session_id, node_id=placement.node_id, region=placement.region,
            distance_km=placement.distance_km, reason=reason, location_source=placement.location_source,
        )
        if placement.previous_node_id:
            log.warning("sfu_session_replaced", previous_node_id=placement.previous_node_id, **fields)
        else:
            log.info("sfu_placed", **fields)
