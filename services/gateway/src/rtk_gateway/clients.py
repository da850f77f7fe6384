"""gRPC stubs the gateway calls. The gateway holds no business logic: it translates only."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from realtime.auth.v1 import auth_service_pb2_grpc
from realtime.meeting.v1 import (
    meeting_service_pb2_grpc,
    participant_service_pb2_grpc,
    preset_service_pb2_grpc,
    webhook_service_pb2_grpc,
)
from realtime.recording.v1 import recording_service_pb2_grpc
from realtime.session.v1 import session_service_pb2_grpc
from rtkit.clients import channel

from rtk_gateway.coalesce import ParticipantAdder
from rtk_gateway.settings import GatewaySettings


@dataclass
class Clients:
    meetings: meeting_service_pb2_grpc.MeetingServiceStub
    presets: preset_service_pb2_grpc.PresetServiceStub
    participants: participant_service_pb2_grpc.ParticipantServiceStub
    webhooks: webhook_service_pb2_grpc.WebhookServiceStub
    auth: auth_service_pb2_grpc.AuthServiceStub
    sessions: session_service_pb2_grpc.SessionServiceStub
    recordings: recording_service_pb2_grpc.RecordingServiceStub
    channels: list[grpc.aio.Channel]
    timeout: float
    participant_adder: ParticipantAdder = field(init=False)

    def __post_init__(self) -> None:
        self.participant_adder = ParticipantAdder(self.participants, timeout=self.timeout)

    @classmethod
    def connect(cls, settings: GatewaySettings) -> Clients:
        meeting = channel(settings.meeting_addr)
        auth = channel(settings.auth_addr)
        orchestrator = channel(settings.orchestrator_addr)
        recording = channel(settings.recording_addr)
        return cls(
            meetings=meeting_service_pb2_grpc.MeetingServiceStub(meeting),
            presets=preset_service_pb2_grpc.PresetServiceStub(meeting),
            participants=participant_service_pb2_grpc.ParticipantServiceStub(meeting),
            webhooks=webhook_service_pb2_grpc.WebhookServiceStub(meeting),
            auth=auth_service_pb2_grpc.AuthServiceStub(auth),
            sessions=session_service_pb2_grpc.SessionServiceStub(orchestrator),
            recordings=recording_service_pb2_grpc.RecordingServiceStub(recording),
            channels=[meeting, auth, orchestrator, recording],
            timeout=settings.rpc_timeout_seconds,
        )

    async def close(self) -> None:
        await self.participant_adder.close()
        for ch in self.channels:
            await ch.close()
