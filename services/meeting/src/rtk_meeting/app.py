"""Explicit wiring of the meeting service: database, bus, auth client, domain, servicers."""

from __future__ import annotations

from pathlib import Path

from realtime.meeting.v1 import (
    meeting_service_pb2,
    meeting_service_pb2_grpc,
    participant_service_pb2,
    participant_service_pb2_grpc,
    preset_service_pb2,
    preset_service_pb2_grpc,
)
from rtkit import clients
from rtkit.authz import Authorizer, GrpcAuthBackend
from rtkit.bus import EventBus
from rtkit.db import Database, create_pool
from rtkit.outbox import OutboxRelay
from rtkit.server import Service

from rtk_meeting.adapters import GrpcTokenIssuer, NullEventRecorder, OutboxEvents
from rtk_meeting.api.servicers import MeetingServicer, ParticipantServicer, PresetServicer
from rtk_meeting.domain.meetings import Meetings
from rtk_meeting.domain.participants import Participants
from rtk_meeting.domain.ports import EventRecorder
from rtk_meeting.domain.presets import Presets
from rtk_meeting.domain.seeding import PresetSeeder
from rtk_meeting.settings import MeetingSettings
from rtk_meeting.webhooks import install as install_webhooks

SCHEMA = "meeting"
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


class _LazyDatabase(Database):
    """A Database whose pool is created by the start hook."""

    def __init__(self) -> None:  # noqa: D107 - pool set in start()
        self.pool = None  # type: ignore[assignment]


async def build(settings: MeetingSettings) -> Service:
    service = Service("meeting", settings)
    db = _LazyDatabase()
    outbox_events = OutboxEvents()  # the relay is attached at start, once the pool and the bus exist
    events: EventRecorder = outbox_events if settings.meeting_publish_events else NullEventRecorder()
    auth_channel = clients.channel(settings.auth_addr)
    authz = Authorizer(GrpcAuthBackend(auth_channel, settings.internal_token), settings.internal_token)
    tokens = GrpcTokenIssuer(auth_channel, settings.internal_token, timeout=settings.meeting_auth_timeout_seconds)
    seeder = PresetSeeder(db, events)
    meetings = Meetings(db, seeder, events)
    presets = Presets(db, seeder, events)
    participants = Participants(db, seeder, events, tokens)
    bus: list[EventBus] = []

    async def start() -> None:
        db.pool = await create_pool(
            settings.database_url,
            schema=SCHEMA,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            connect_timeout=settings.db_connect_timeout,
            command_timeout=settings.db_command_timeout,
        )
        if settings.meeting_publish_events:
            bus.append(await EventBus.connect(settings.nats_url, name="meeting"))
            outbox_events.relay = OutboxRelay(db.pool, bus[0], schema=SCHEMA,
                                              poll_seconds=settings.meeting_outbox_poll_seconds)
            outbox_events.relay.start()
            outbox_events.relay.wake()  # rows a previous process committed but did not publish

    async def stop() -> None:
        await tokens.close()
        if outbox_events.relay is not None:  # committed events go out before the bus closes
            await outbox_events.relay.stop()
        for b in bus:
            await b.close()
        if db.pool is not None:
            await db.close()
        await auth_channel.close()

    service.on_start(start)
    service.on_stop(stop)
    await install_webhooks(service, settings, db, None, authz)
    service.add_servicer(meeting_service_pb2_grpc.add_MeetingServiceServicer_to_server,
                         MeetingServicer(authz, meetings),
                         meeting_service_pb2.DESCRIPTOR.services_by_name["MeetingService"].full_name)
    service.add_servicer(preset_service_pb2_grpc.add_PresetServiceServicer_to_server,
                         PresetServicer(authz, presets),
                         preset_service_pb2.DESCRIPTOR.services_by_name["PresetService"].full_name)
    service.add_servicer(participant_service_pb2_grpc.add_ParticipantServiceServicer_to_server,
                         ParticipantServicer(authz, participants),
                         participant_service_pb2.DESCRIPTOR.services_by_name["ParticipantService"].full_name)
    return service
