"""Fixtures for the auth service: its domain on a fresh database, and the real gRPC service."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
import pytest
from authtest_support import INTERNAL_TOKEN, AuthDomain, FakeMeetings, make_domain
from realtime.auth.v1 import auth_service_pb2_grpc
from realtime.meeting.v1 import meeting_pb2, meeting_service_pb2, meeting_service_pb2_grpc
from rtk_auth.app import MIGRATIONS, SCHEMA, build
from rtk_auth.settings import AuthSettings
from rtkit import db
from rtkit.errors import ApiError


@pytest.fixture
async def auth_pool(database_url: str) -> AsyncIterator[object]:
    await db.migrate(database_url, SCHEMA, MIGRATIONS)
    pool = await db.create_pool(database_url, schema=SCHEMA, min_size=1, max_size=10)
    yield pool
    await pool.close()


@pytest.fixture
async def auth(auth_pool: object) -> AuthDomain:
    return await make_domain(auth_pool)


# --- the real service over gRPC, with a stand-in MeetingService on its own port ------------------


class FakeMeetingService(meeting_service_pb2_grpc.MeetingServiceServicer):
    """Answers GetMeeting from FakeMeetings (the network boundary of the auth service)."""

    def __init__(self, meetings: FakeMeetings) -> None:
        self.meetings = meetings
        self.seen_metadata: list[dict[str, str]] = []

    async def GetMeeting(self, request, context):  # noqa: N802
        self.seen_metadata.append(dict(context.invocation_metadata()))
        key = (request.app_id, request.meeting_id)
        if key not in self.meetings.active:
            await context.abort_with_status(
                ApiError("MEETING_NOT_FOUND", "No meeting.", meetingId=request.meeting_id).to_status()
            )
        status = meeting_pb2.MEETING_STATUS_ACTIVE if self.meetings.active[key] else meeting_pb2.MEETING_STATUS_INACTIVE
        return meeting_service_pb2.GetMeetingResponse(
            meeting=meeting_pb2.Meeting(id=request.meeting_id, app_id=request.app_id, status=status)
        )


@dataclass
class AuthServer:
    address: str
    stub: auth_service_pb2_grpc.AuthServiceStub
    meetings: FakeMeetings
    meeting_service: FakeMeetingService
    database_url: str
    internal = (("x-rtk-internal-token", INTERNAL_TOKEN),)

    @staticmethod
    def bearer(secret: str, account_id: str | None = None) -> tuple[tuple[str, str], ...]:
        md = [("authorization", f"Bearer {secret}")]
        if account_id is not None:
            md.append(("x-rtk-account-id", account_id))
        return tuple(md)


@pytest.fixture
async def auth_server(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AuthServer]:
    meetings = FakeMeetings()
    fake = FakeMeetingService(meetings)
    meeting_server = grpc.aio.server()
    meeting_service_pb2_grpc.add_MeetingServiceServicer_to_server(fake, meeting_server)
    meeting_port = meeting_server.add_insecure_port("127.0.0.1:0")
    await meeting_server.start()

    await db.migrate(database_url, SCHEMA, MIGRATIONS)
    settings = AuthSettings(
        database_url=database_url,
        grpc_host="127.0.0.1",
        grpc_port=0,
        internal_token=INTERNAL_TOKEN,
        meeting_addr=f"127.0.0.1:{meeting_port}",
        drain_seconds=0,
        stop_grace_seconds=1,
        metrics_port=0,
    )
    service = await build(settings)
    task = asyncio.create_task(service.run())
    while service.bound_port is None or service.server is None:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    address = f"127.0.0.1:{service.bound_port}"
    channel = grpc.aio.insecure_channel(address)
    await channel.channel_ready()
    try:
        yield AuthServer(address, auth_service_pb2_grpc.AuthServiceStub(channel), meetings, fake, database_url)
    finally:
        await channel.close()
        service.request_stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 15)
        await meeting_server.stop(0)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # Service.run() installed these on the test loop
            loop.remove_signal_handler(sig)
