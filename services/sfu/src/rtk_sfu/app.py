"""Explicit wiring of the SFU process: node presence (heartbeats, drain, SfuNodeService), the
media plane (rtk_sfu.media.MediaRouter) and its control plane (SfuService, orchestrator
authorization and events, pushes to peers over NATS)."""

from __future__ import annotations

import dataclasses

from realtime.sfu.v1 import sfu_service_pb2_grpc
from realtime.signaling.v1 import signal_pb2
from rtkit.bus import EventBus
from rtkit.logging import get_logger
from rtkit.server import Service

from rtk_sfu import node
from rtk_sfu.adapters import EventWatcher, OrchestratorAuthorizer, PeerNotifier
from rtk_sfu.api.servicer import SERVICE_NAME, SfuServicer
from rtk_sfu.domain.rooms import RoomManager
from rtk_sfu.domain.session_router import SessionRouter
from rtk_sfu.media import MediaConfig, MediaLoad
from rtk_sfu.settings import SfuSettings

log = get_logger("rtk_sfu")


class _RoomLoad:
    """The router's load with `peers` counted as session peers (each has two connections)."""

    def __init__(self, router: SessionRouter, rooms: RoomManager) -> None:
        self._router, self._rooms = router, rooms

    def load(self) -> MediaLoad:
        return dataclasses.replace(self._router.load(), peers=self._rooms.peer_count)


async def build(settings: SfuSettings) -> Service:
    service = Service("sfu", settings)
    router = SessionRouter(MediaConfig(ice=settings.ice_config(), speaker_interval=settings.sfu_speaker_interval_seconds))
    authorizer = OrchestratorAuthorizer(settings.orchestrator_addr, settings.internal_token)
    state: dict[str, object] = {}

    async def notify(peer_id: str, message: signal_pb2.ServerMessage) -> None:
        notifier = state.get("notifier")
        if notifier is None:
            raise RuntimeError("NATS is not connected yet")
        await notifier(peer_id, message)  # type: ignore[operator]

    agent: node.NodeAgent | None = None
    rooms = RoomManager(
        router, authorize=authorizer, notify=notify,
        draining=lambda: agent is not None and agent.draining,
        speaker_interval=settings.sfu_speaker_interval_seconds,
        answer_timeout=settings.sfu_answer_timeout_seconds,
    )
    # Live load for the heartbeats and the drain wait (peers = session peers on this node).
    agent = node.install(service, settings, node.MediaLoadSource(_RoomLoad(router, rooms)))
    # While draining (agent.draining) the servicer refuses new peers with NODE_DRAINING.
    service.add_servicer(sfu_service_pb2_grpc.add_SfuServiceServicer_to_server,
                         SfuServicer(rooms, settings.internal_token), SERVICE_NAME)

    async def start() -> None:
        bus = await EventBus.connect(settings.nats_url, name=f"sfu-media-{settings.sfu_node_id or 'node'}")
        state["bus"] = bus
        state["notifier"] = PeerNotifier(bus)
        watcher = EventWatcher(bus, rooms.on_event)
        await watcher.start()
        state["watcher"] = watcher

    async def stop() -> None:
        watcher = state.get("watcher")
        if isinstance(watcher, EventWatcher):
            await watcher.stop()
        await rooms.close()
        await router.close()
        await authorizer.close()
        bus = state.get("bus")
        if isinstance(bus, EventBus):
            await bus.close()

    service.on_start(start)
    service.on_stop(stop)
    return service
