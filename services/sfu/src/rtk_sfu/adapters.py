"""The SFU control plane's ports to the rest of the system.

    OrchestratorAuthorizer — SessionService.AuthorizeProducer (internal token)
    PeerNotifier           — ServerMessages to a peer on core NATS `realtime.signal.v1.peers.<peer_id>`
    EventWatcher           — orchestrator events from JetStream REALTIME_EVENTS (ephemeral ordered
                             consumers, deliver-new: only live decisions matter to media)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import grpc
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy
from realtime.events.v1 import event_pb2
from realtime.session.v1 import session_service_pb2, session_service_pb2_grpc
from realtime.signaling.v1 import signal_pb2
from rtkit.bus import EventBus
from rtkit.clients import channel, internal_metadata
from rtkit.errors import ApiError, decode_rpc_error
from rtkit.logging import get_logger

from rtk_sfu.domain.rooms import Authorization

log = get_logger("rtk_sfu.adapters")

PEER_SUBJECT = "realtime.signal.v1.peers.{peer_id}"
#: orchestrator events the SFU acts on (subject tails, docs/events.md §1)
WATCHED_EVENTS = ("participants_kicked", "participants_muted", "stage_status_changed", "participant_left",
                  "session_ended")


class OrchestratorAuthorizer:
    def __init__(self, address: str, internal_token: str, timeout: float = 5.0) -> None:
        self._channel = channel(address)
        self._stub = session_service_pb2_grpc.SessionServiceStub(self._channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout

    async def __call__(self, peer_id: str, kind: int) -> Authorization:
        try:
            response = await self._stub.AuthorizeProducer(
                session_service_pb2.AuthorizeProducerRequest(peer_id=peer_id, kind=kind),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            log.warning("sfu_authorize_failed", peer_id=peer_id, code=decoded.code.name, error=decoded.message)
            raise ApiError("DEPENDENCY_UNAVAILABLE", "The session service is unavailable; retry shortly.") from None
        return Authorization(
            allowed=response.allowed, reason=response.reason, message=response.message,
            session_id=response.session_id, app_id=response.app_id, meeting_id=response.meeting_id,
            participant_id=response.participant_id)

    async def close(self) -> None:
        await self._channel.close()


class PeerNotifier:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def __call__(self, peer_id: str, message: signal_pb2.ServerMessage) -> None:
        await self._bus.nc.publish(PEER_SUBJECT.format(peer_id=peer_id), message.SerializeToString())


class EventWatcher:
    """Hands every watched orchestrator event to `handler`, from now on (no replay)."""

    def __init__(self, bus: EventBus, handler: Callable[[event_pb2.Event], Awaitable[None]]) -> None:
        self._bus = bus
        self._handler = handler
        self._subscriptions: list = []
        self._queue: asyncio.Queue[event_pb2.Event] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        for name in WATCHED_EVENTS:
            subject = f"realtime.events.v1.apps.*.meetings.*.{name}"
            sub = await self._bus.js.subscribe(subject, cb=self._on_message, ordered_consumer=True,
                                               deliver_policy=DeliverPolicy.NEW)
            self._subscriptions.append(sub)
        self._worker = asyncio.create_task(self._work(), name="sfu-events")

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = event_pb2.Event.FromString(msg.data)
        except Exception:  # noqa: BLE001 - a bad payload must not stop the consumer
            log.warning("sfu_event_undecodable", subject=msg.subject)
            return
        self._queue.put_nowait(event)

    async def _work(self) -> None:
        # One at a time, in arrival order, off the NATS callback.
        while True:
            event = await self._queue.get()
            try:
                await self._handler(event)
            except Exception:  # noqa: BLE001
                log.exception("sfu_event_failed", payload=event.WhichOneof("payload"), event_id=event.event_id)

    async def stop(self) -> None:
        for sub in self._subscriptions:
            try:
                await sub.unsubscribe()
            except Exception:  # noqa: BLE001
                pass
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
