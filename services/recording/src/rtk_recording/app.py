"""Explicit wiring of the recording service: RecordingService API, the recorder slots of this
process, the session-event consumers (record_on_start, stop on session end), the sweeper of dead
recorders, and the event outbox relay."""

from __future__ import annotations

from pathlib import Path

from nats.aio.msg import Msg
from realtime.events.v1 import event_pb2
from realtime.recording.v1 import recording_service_pb2, recording_service_pb2_grpc
from rtkit import clients, db
from rtkit.authz import Authorizer, GrpcAuthBackend
from rtkit.bus import EventBus
from rtkit.logging import get_logger
from rtkit.outbox import OutboxRelay
from rtkit.server import Service

from rtk_recording.adapters import GrpcDirectory
from rtk_recording.api.servicer import RecordingServicer
from rtk_recording.domain.models import DownloadSigner
from rtk_recording.domain.recordings import Config, Recordings
from rtk_recording.recorder.job import JobSettings
from rtk_recording.recorder.session import SdkSession, SessionListener
from rtk_recording.recorder.storage import LocalStorage, S3Config, S3Storage, Storage
from rtk_recording.recorder.worker import RecorderLink, RecorderWorker
from rtk_recording.settings import RecordingSettings

SCHEMA = "recording"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SERVICE_NAME = recording_service_pb2.DESCRIPTOR.services_by_name["RecordingService"].full_name

log = get_logger("rtk_recording")


def storage_dir(settings: RecordingSettings) -> Path:
    return Path(settings.recording_storage_dir or Path(settings.data_dir) / "recordings")


def make_storage(settings: RecordingSettings) -> Storage:
    if settings.recording_storage == "s3":
        return S3Storage(S3Config(endpoint=settings.recording_s3_endpoint, bucket=settings.recording_s3_bucket,
                                  region=settings.recording_s3_region, access_key=settings.recording_s3_access_key,
                                  secret_key=settings.recording_s3_secret_key, prefix=settings.recording_s3_prefix))
    if settings.recording_storage != "local":
        raise ValueError("RTK_RECORDING_STORAGE must be local or s3")
    return LocalStorage(storage_dir(settings))


def work_dir(settings: RecordingSettings) -> Path:
    if settings.recording_work_dir:
        return Path(settings.recording_work_dir)
    return storage_dir(settings) / ".work"


async def build(settings: RecordingSettings) -> Service:
    service = Service("recording", settings)
    pool = await db.create_pool(settings.database_url, schema=SCHEMA, min_size=settings.db_pool_min,
                                max_size=settings.db_pool_max, connect_timeout=settings.db_connect_timeout,
                                command_timeout=settings.db_command_timeout)
    bus = await EventBus.connect(settings.nats_url, name="recording")
    meeting_channel = clients.channel(settings.meeting_addr)
    orchestrator_channel = clients.channel(settings.orchestrator_addr)
    auth_channel = clients.channel(settings.auth_addr)
    relay = OutboxRelay(pool, bus, schema=SCHEMA, poll_seconds=settings.recording_outbox_poll_seconds)
    directory = GrpcDirectory(meeting_channel, orchestrator_channel, settings.internal_token)
    storage = make_storage(settings)
    signer = DownloadSigner(settings.recording_signing_key or settings.internal_token, settings.public_url,
                            settings.recording_download_ttl_seconds)
    link = RecorderLink(bus)
    recordings = Recordings(pool, directory, link, signer,
                            Config(lease_seconds=settings.recording_lease_seconds,
                                   default_max_seconds=settings.recording_default_max_seconds,
                                   download_ttl_seconds=settings.recording_download_ttl_seconds),
                            on_commit=relay.wake)

    async def connect(token: str, listener: SessionListener) -> SdkSession:
        return await SdkSession.connect(token, settings.public_url, listener,
                                        join_timeout=settings.recording_join_timeout_seconds)

    job_settings = JobSettings(workdir=work_dir(settings), preset=settings.recording_recorder_preset,
                               join_timeout=settings.recording_join_timeout_seconds,
                               alone_seconds=settings.recording_alone_seconds,
                               composite_fps=settings.recording_composite_fps,
                               x264_preset=settings.recording_x264_preset)
    worker = RecorderWorker(pool, recordings, directory, connect, storage, job_settings,
                            capacity=settings.recording_max_concurrent,
                            heartbeat_seconds=settings.recording_heartbeat_seconds)
    link.local = worker
    authorizer = Authorizer(GrpcAuthBackend(auth_channel, settings.internal_token), settings.internal_token)
    service.add_servicer(recording_service_pb2_grpc.add_RecordingServiceServicer_to_server,
                         RecordingServicer(authorizer, recordings, storage), SERVICE_NAME)

    async def on_session_event(msg: Msg) -> None:
        event = event_pb2.Event.FromString(msg.data)
        kind = event.WhichOneof("payload")
        if kind == "session_started":
            session = event.session_started.session
            await recordings.on_session_started(event.app_id or session.app_id, session)
        elif kind == "session_ended":
            session = event.session_ended.session
            await recordings.on_session_ended(event.app_id or session.app_id, session.id)

    async def start() -> None:
        relay.start()
        await recordings.sweep()
        await worker.start(bus)
        prefix = settings.recording_session_events_durable
        await bus.consume("realtime.events.v1.apps.*.meetings.*.session_started", f"{prefix}-started",
                          on_session_event, deliver_new=True)
        await bus.consume("realtime.events.v1.apps.*.meetings.*.session_ended", f"{prefix}-ended",
                          on_session_event, deliver_new=True)
        service.run_in_background(recordings.sweep_forever(settings.recording_sweep_seconds), "sweeper")

    async def drain() -> None:
        await worker.drain(grace=max(5.0, settings.stop_grace_seconds))

    async def stop() -> None:
        await worker.stop()
        await relay.stop()
        await bus.close()
        for channel in (meeting_channel, orchestrator_channel, auth_channel):
            await channel.close()
        await db.Database(pool).close()

    service.on_start(start)
    service.on_drain(drain)
    service.on_stop(stop)
    return service
