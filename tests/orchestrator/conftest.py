"""Fixtures for the session orchestrator: the real stack (as processes) with short heartbeat and
resume timings, plus small clients that play the gateway relay's part: choose a peer id,
subscribe to `realtime.signal.v1.peers.<peer_id>` on NATS, call SessionService.JoinSession,
heartbeat in the background and forward client messages through HandleClientMessage."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import nats
import pytest
from orch_support import HEARTBEAT, MISSES, RESUME_WINDOW
from realtime.auth.v1 import auth_service_pb2_grpc
from realtime.events.v1 import event_pb2
from realtime.meeting.v1 import (
    meeting_pb2,
    meeting_service_pb2,
    meeting_service_pb2_grpc,
    participant_pb2,
    participant_service_pb2,
    participant_service_pb2_grpc,
    preset_pb2,
    preset_service_pb2,
    preset_service_pb2_grpc,
)
from realtime.session.v1 import session_service_pb2 as pb
from realtime.session.v1 import session_service_pb2_grpc
from realtime.signaling.v1 import signal_pb2 as sig
from rtk_cli.devstack import DevStack


class OrchestratorStack:
    def __init__(self, dev: DevStack, nats_url: str) -> None:
        self.dev = dev
        self.nats_url = nats_url
        creds = dev.credentials
        self.account_id: str = creds["account_id"]  # type: ignore[assignment]
        self.app_id: str = creds["app_id"]  # type: ignore[assignment]
        self.api_token: str = creds["api_token"]  # type: ignore[assignment]
        self.gateway_url = dev.gateway_url
        self.grpc: dict[str, str] = creds["grpc"]  # type: ignore[assignment]
        self.internal = (("x-rtk-internal-token", dev.internal_token),)

    @property
    def base(self) -> str:
        return f"/client/v4/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    def logs(self, name: str, tail: int = 40) -> str:
        path = self.dev.logs_dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:]) if path.exists() else ""


@pytest.fixture(scope="session")
async def ostack(infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OrchestratorStack]:
    database_url = await infra.create_database()
    env = {
        "RTK_DATABASE_URL": database_url,
        "RTK_NATS_URL": infra.nats_url,
        "RTK_LOG_LEVEL": "info",
        "RTK_ORCHESTRATOR_HEARTBEAT_INTERVAL_SECONDS": str(HEARTBEAT),
        "RTK_ORCHESTRATOR_HEARTBEAT_MISSES": str(MISSES),
        "RTK_ORCHESTRATOR_RESUME_WINDOW_SECONDS": str(RESUME_WINDOW),
        "RTK_ORCHESTRATOR_REAPER_INTERVAL_SECONDS": "0.2",
        "RTK_ORCHESTRATOR_OUTBOX_POLL_SECONDS": "0.2",
        # the session's shared NATS may also serve the suite-wide stack: keep our own consumer
        "RTK_ORCHESTRATOR_PARTICIPANT_EVENTS_DURABLE": f"orchestrator-participant-deleted-{uuid.uuid4().hex[:8]}",
    }
    dev = DevStack(tmp_path_factory.mktemp("orchestrator-stack"), free_ports=True, extra_env=env, log_to_files=True)
    await asyncio.to_thread(dev.start, 90)
    try:
        yield OrchestratorStack(dev, infra.nats_url)
    finally:
        await asyncio.to_thread(dev.stop)


class PeerClient:
    """One peer, as the relay sees it."""

    def __init__(self, world: World, participant: participant_pb2.Participant) -> None:
        self.world = world
        self.participant = participant
        self.peer_id = str(uuid.uuid4())
        self.inbox: asyncio.Queue[sig.ServerMessage] = asyncio.Queue()
        self.seen: list[sig.ServerMessage] = []
        self.join_response: sig.JoinResponse | None = None
        self._sub: Any = None
        self._beat: asyncio.Task[None] | None = None
        self._ids = 0

    @property
    def user_id(self) -> str:
        return self.participant.id

    async def subscribe(self) -> None:
        async def on_msg(msg: Any) -> None:
            self.inbox.put_nowait(sig.ServerMessage.FromString(msg.data))

        self._sub = await self.world.nc.subscribe(f"realtime.signal.v1.peers.{self.peer_id}", cb=on_msg)
        await self.world.nc.flush()

    def start_heartbeat(self) -> None:
        async def beat() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT / 2)
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await self.world.sessions.PeerHeartbeat(pb.PeerHeartbeatRequest(peer_id=self.peer_id),
                                                            metadata=self.world.stack.internal, timeout=5)

        self._beat = asyncio.create_task(beat())

    def stop_heartbeat(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None

    async def send(self, **kwargs: Any) -> sig.ServerMessage:
        self._ids += 1
        message = sig.ClientMessage(request_id=f"r{self._ids}", **kwargs)
        response = await self.world.sessions.HandleClientMessage(
            pb.HandleClientMessageRequest(peer_id=self.peer_id, message=message),
            metadata=self.world.stack.internal, timeout=10)
        assert response.reply.request_id == message.request_id
        return response.reply

    async def ok(self, **kwargs: Any) -> sig.ServerMessage:
        reply = await self.send(**kwargs)
        assert reply.WhichOneof("message") != "error", reply.error
        return reply

    async def expect(self, kind: str, where: Callable[[Any], bool] = lambda _: True,
                     within: float = 5.0) -> Any:
        """The first not yet expected push of `kind` matching `where` (waiting for it if needed).
        Pushes of other kinds stay available, so the order of expectations does not matter."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            while not self.inbox.empty():
                self.seen.append(self.inbox.get_nowait())
            for i, msg in enumerate(self.seen):
                if msg.WhichOneof("message") == kind and where(getattr(msg, kind)):
                    del self.seen[i]
                    return getattr(msg, kind)
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"no {kind} push for {self.peer_id}; got "
                                     f"{[m.WhichOneof('message') for m in self.seen]}")
            try:
                self.seen.append(await asyncio.wait_for(self.inbox.get(), timeout=remaining))
            except TimeoutError:
                continue

    async def quiet(self, kind: str, seconds: float = 0.5) -> None:
        """Assert that no push of `kind` arrives for a while."""
        with contextlib.suppress(AssertionError):
            payload = await self.expect(kind, within=seconds)
            raise RuntimeError(f"unexpected {kind}: {payload}")

    def drain(self) -> list[sig.ServerMessage]:
        out = []
        while not self.inbox.empty():
            out.append(self.inbox.get_nowait())
        return out

    async def close(self) -> None:
        self.stop_heartbeat()
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()


class World:
    """gRPC stubs and NATS for one test; creates meetings, presets, participants and peers."""

    def __init__(self, stack: OrchestratorStack) -> None:
        self.stack = stack
        self.app_id = stack.app_id
        self._channels = [grpc.aio.insecure_channel(stack.grpc[name]) for name in ("meeting", "orchestrator", "auth")]
        meeting, orch, auth = self._channels
        self.meetings = meeting_service_pb2_grpc.MeetingServiceStub(meeting)
        self.presets = preset_service_pb2_grpc.PresetServiceStub(meeting)
        self.participants = participant_service_pb2_grpc.ParticipantServiceStub(meeting)
        self.sessions = session_service_pb2_grpc.SessionServiceStub(orch)
        self.auth = auth_service_pb2_grpc.AuthServiceStub(auth)
        self.nc: Any = None
        self.peers: list[PeerClient] = []
        self.events: list[tuple[str, event_pb2.Event]] = []
        self._subs: list[Any] = []

    async def start(self) -> None:
        self.nc = await nats.connect(self.stack.nats_url)

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()
        if self.nc is not None:
            await self.nc.close()
        for ch in self._channels:
            await ch.close()

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        return self.stack.internal

    async def meeting(self, *, keep_alive: int | None = 60, title: str = "Test meeting") -> str:
        meeting = meeting_pb2.Meeting(title=title)
        if keep_alive is not None:
            meeting.session_keep_alive_time_in_secs = keep_alive
        response = await self.meetings.CreateMeeting(
            meeting_service_pb2.CreateMeetingRequest(app_id=self.app_id, meeting=meeting), metadata=self.md)
        meeting_id = response.meeting.id

        async def on_event(msg: Any) -> None:
            self.events.append((msg.subject.rsplit(".", 1)[-1], event_pb2.Event.FromString(msg.data)))

        self._subs.append(await self.nc.subscribe(
            f"realtime.events.v1.apps.{self.app_id}.meetings.{meeting_id}.>", cb=on_event))
        await self.nc.flush()
        return meeting_id

    async def preset(self, base: str = "group_call_participant",
                     change: Callable[[preset_pb2.PresetPermissions], None] | None = None) -> preset_pb2.Preset:
        found = await self.presets.GetPresetByName(
            preset_service_pb2.GetPresetByNameRequest(app_id=self.app_id, name=base), metadata=self.md)
        preset = preset_pb2.Preset()
        preset.CopyFrom(found.preset)
        for name in ("id", "app_id", "create_time", "update_time"):
            preset.ClearField(name)
        preset.name = f"{base}-{uuid.uuid4().hex[:8]}"
        if change is not None:
            change(preset.permissions)
        created = await self.presets.CreatePreset(
            preset_service_pb2.CreatePresetRequest(app_id=self.app_id, preset=preset), metadata=self.md)
        return created.preset

    async def participant(self, meeting_id: str, preset: str | preset_pb2.Preset, name: str = "",
                          custom_id: str = "") -> tuple[participant_pb2.Participant, str]:
        preset_name = preset if isinstance(preset, str) else preset.name
        participant = participant_pb2.Participant(
            preset_name=preset_name, custom_participant_id=custom_id or f"cust-{uuid.uuid4().hex[:8]}")
        if name:
            participant.name = name
        response = await self.participants.AddParticipant(
            participant_service_pb2.AddParticipantRequest(app_id=self.app_id, meeting_id=meeting_id,
                                                          participant=participant), metadata=self.md)
        return response.participant, response.token

    async def join(self, meeting_id: str, preset: str | preset_pb2.Preset, name: str = "",
                   participant: participant_pb2.Participant | None = None, heartbeat: bool = True) -> PeerClient:
        if participant is None:
            participant, _ = await self.participant(meeting_id, preset, name or f"user-{len(self.peers)}")
        peer = PeerClient(self, participant)
        self.peers.append(peer)
        await peer.subscribe()
        response = await self.sessions.JoinSession(pb.JoinSessionRequest(
            app_id=self.app_id, meeting_id=meeting_id, participant_id=participant.id,
            preset_id=participant.preset_id, peer_id=peer.peer_id), metadata=self.md, timeout=10)
        peer.join_response = response.join
        if heartbeat:
            peer.start_heartbeat()
        return peer

    def events_named(self, name: str) -> list[event_pb2.Event]:
        return [e for n, e in self.events if n == name]

    async def wait_event(self, name: str, count: int = 1, within: float = 5.0) -> list[event_pb2.Event]:
        deadline = asyncio.get_running_loop().time() + within
        while len(self.events_named(name)) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"expected {count} {name} events, got {[n for n, _ in self.events]}")
            await asyncio.sleep(0.05)
        return self.events_named(name)

    async def active(self, meeting_id: str) -> Any:
        return (await self.sessions.GetActiveSession(
            pb.GetActiveSessionRequest(app_id=self.app_id, meeting_id=meeting_id), metadata=self.md)).session


@pytest.fixture
async def world(ostack: OrchestratorStack) -> AsyncIterator[World]:
    w = World(ostack)
    await w.start()
    try:
        yield w
    finally:
        await w.close()
