"""Explicit wiring of the session orchestrator."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from nats.aio.msg import Msg
from realtime.events.v1 import event_pb2
from realtime.session.v1 import session_service_pb2, session_service_pb2_grpc
from rtkit import clients, db
from rtkit.authz import Authorizer, GrpcAuthBackend
from rtkit.bus import EventBus
from rtkit.logging import get_logger
from rtkit.outbox import OutboxRelay
from rtkit.server import Service

from rtk_orchestrator.adapters import GrpcDirectory, GrpcTokenRevoker, NatsSignalSink
from rtk_orchestrator.api.servicer import SessionServicer
from rtk_orchestrator.domain.orchestrator import Config, Orchestrator
from rtk_orchestrator.settings import OrchestratorSettings

SCHEMA = "orchestrator"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = session_service_pb2.DESCRIPTOR.services_by_name["SessionService"].full_name

log = get_logger("rtk_orchestrator")


def config_from(settings: OrchestratorSettings) -> Config:
    key = settings.orchestrator_export_signing_key or settings.internal_token
    return Config(
        heartbeat_interval=settings.orchestrator_heartbeat_interval_seconds,
        heartbeat_misses=settings.orchestrator_heartbeat_misses,
        resume_window=settings.orchestrator_resume_window_seconds,
        default_keep_alive=settings.orchestrator_default_keep_alive_seconds,
        broadcast_per_second=settings.orchestrator_broadcast_per_second,
        chat_per_minute=settings.orchestrator_chat_per_minute,
        chat_history_on_join=settings.orchestrator_chat_history_on_join,
        public_url=settings.public_url,
        export_key=hashlib.sha256(f"rtk-chat-export:{key}".encode()).digest(),
        export_ttl=settings.orchestrator_export_url_ttl_seconds,
    )


async def build(settings: OrchestratorSettings) -> Service:
    service = Service("orchestrator", settings)
    pool = await db.create_pool(
        settings.database_url,
        schema=SCHEMA,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        connect_timeout=settings.db_connect_timeout,
        command_timeout=settings.db_command_timeout,
    )
    bus = await EventBus.connect(settings.nats_url, name="orchestrator")
    meeting_channel = clients.channel(settings.meeting_addr)
    auth_channel = clients.channel(settings.auth_addr)
    relay = OutboxRelay(pool, bus, schema=SCHEMA, poll_seconds=settings.orchestrator_outbox_poll_seconds)
    orchestrator = Orchestrator(
        pool,
        GrpcDirectory(meeting_channel, settings.internal_token, preset_ttl=settings.orchestrator_preset_cache_seconds),
        GrpcTokenRevoker(auth_channel, settings.internal_token),
        NatsSignalSink(bus),
        config_from(settings),
        on_commit=relay.wake,
    )
    authorizer = Authorizer(GrpcAuthBackend(auth_channel, settings.internal_token), settings.internal_token)
    service.add_servicer(session_service_pb2_grpc.add_SessionServiceServicer_to_server,
                         SessionServicer(authorizer, orchestrator), SERVICE_NAME)

    async def reap_forever() -> None:
        while True:
            await asyncio.sleep(settings.orchestrator_reaper_interval_seconds)
            try:
                await orchestrator.reap()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried next interval
                log.warning("reaper_failed", error=str(exc))

    async def on_participant_deleted(msg: Msg) -> None:
        event = event_pb2.Event.FromString(msg.data)
        if event.WhichOneof("payload") != "participant_deleted":
            return
        participant = event.participant_deleted.participant
        removed = await orchestrator.participant_deleted(event.app_id or participant.app_id, participant.meeting_id,
                                                         participant.id)
        if removed:
            log.info("deleted_participant_removed", app_id=event.app_id, meeting_id=participant.meeting_id,
                     participant_id=participant.id, peers=removed)

    async def start() -> None:
        relay.start()
        await bus.consume("realtime.events.v1.apps.*.meetings.*.participant_deleted",
                          settings.orchestrator_participant_events_durable, on_participant_deleted, deliver_new=True)
        service.run_in_background(reap_forever(), "reaper")

    async def stop() -> None:
        await relay.stop()
        await bus.close()
        await meeting_channel.close()
        await auth_channel.close()
        await db.Database(pool).close()

    service.on_start(start)
    service.on_stop(stop)
    return service
