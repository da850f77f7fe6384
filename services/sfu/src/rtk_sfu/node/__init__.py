"""The SFU node's presence in the cluster (heartbeats, capacity, draining) and its control API.

    load.py    — LoadSource protocol; ProcessLoadSource (CPU only) and MediaLoadSource (media engine)
    agent.py   — NodeAgent: node identity, NodeHeartbeat every 2 s on core NATS, drain
    api.py     — SfuNodeService (GetNode, DrainNode)
    drain.py   — `python -m rtk_sfu drain` (Kubernetes preStop)

`install()` wires it into the service (called from app.build).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from realtime.sfu.v1 import sfu_node_service_pb2_grpc
from rtkit.bus import EventBus

from rtk_sfu.node.agent import NodeAgent, heartbeat_subject
from rtk_sfu.node.api import SERVICE_NAME, SfuNodeServicer
from rtk_sfu.node.load import LoadSource, MediaLoadSource, NodeLoad, ProcessLoadSource

if TYPE_CHECKING:
    from rtkit.server import Service

    from rtk_sfu.settings import SfuSettings

__all__ = [
    "LoadSource",
    "MediaLoadSource",
    "NodeAgent",
    "NodeLoad",
    "ProcessLoadSource",
    "heartbeat_subject",
    "install",
]


def install(service: Service, settings: SfuSettings, load: LoadSource) -> NodeAgent:
    """Register SfuNodeService and the start (NATS + heartbeats), drain and stop hooks."""
    agent = NodeAgent(settings, load, port=lambda: service.bound_port)
    service.add_servicer(
        sfu_node_service_pb2_grpc.add_SfuNodeServiceServicer_to_server,
        SfuNodeServicer(agent, settings.internal_token, service.request_stop),
        SERVICE_NAME,
    )
    buses: list[EventBus] = []

    async def start() -> None:
        bus = await EventBus.connect(settings.nats_url, name=f"sfu-{settings.sfu_node_id or 'node'}",
                                     ensure_stream=False)
        buses.append(bus)
        agent.start(bus.publish_core, flush=lambda: bus.nc.flush(timeout=2))

    async def drain() -> None:
        await agent.drain("shutdown", settings.sfu_max_drain_seconds)

    async def stop() -> None:
        await agent.stop()
        for bus in buses:
            await bus.close()

    service.on_start(start)
    service.on_drain(drain)
    service.on_stop(stop)
    return agent
