"""Real implementations of the domain ports: the meeting and auth services over gRPC, and core
NATS for server → peer signaling."""

from __future__ import annotations

import time

import grpc
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
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
from realtime.signaling.v1 import signal_pb2
from rtkit.bus import EventBus
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError, decode_rpc_error
from rtkit.logging import get_logger

log = get_logger("rtk_orchestrator.adapters")

SIGNAL_SUBJECT = "realtime.signal.v1.peers.{peer_id}"


def signal_subject(peer_id: str) -> str:
    return SIGNAL_SUBJECT.format(peer_id=peer_id)


def _translate(method: str, exc: grpc.aio.AioRpcError, not_found: ApiError) -> ApiError:
    decoded = decode_rpc_error(exc)
    if exc.code() == grpc.StatusCode.NOT_FOUND:
        return not_found
    if decoded.reason in ("MEETING_INACTIVE", "INVALID_FIELD"):
        return ApiError(decoded.reason, decoded.message)
    log.warning("dependency_call_failed", method=method, code=exc.code().name, error=exc.details())
    return ApiError("DEPENDENCY_UNAVAILABLE", f"The meeting service failed ({method}: {exc.code().name}).")


class GrpcDirectory:
    """Meetings, presets (cached for a few seconds) and participants from the meeting service."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, preset_ttl: float = 10.0,
                 timeout: float = 5.0) -> None:
        self._meetings = meeting_service_pb2_grpc.MeetingServiceStub(channel)
        self._presets = preset_service_pb2_grpc.PresetServiceStub(channel)
        self._participants = participant_service_pb2_grpc.ParticipantServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout
        self._preset_ttl = preset_ttl
        self._preset_cache: dict[tuple[str, str], tuple[float, preset_pb2.Preset]] = {}

    async def meeting(self, app_id: str, meeting_id: str) -> meeting_pb2.Meeting:
        try:
            response = await self._meetings.GetMeeting(
                meeting_service_pb2.GetMeetingRequest(app_id=app_id, meeting_id=meeting_id),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate("GetMeeting", exc, ApiError("MEETING_NOT_FOUND", f"No meeting with id {meeting_id}.",
                                                         meetingId=meeting_id)) from exc
        return response.meeting

    async def preset(self, app_id: str, preset_id: str) -> preset_pb2.Preset:
        key = (app_id, preset_id)
        hit = self._preset_cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            response = await self._presets.GetPreset(
                preset_service_pb2.GetPresetRequest(app_id=app_id, preset_id=preset_id),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate("GetPreset", exc, ApiError("PRESET_NOT_FOUND", f"No preset with id {preset_id}.",
                                                        presetId=preset_id)) from exc
        if len(self._preset_cache) > 10_000:
            self._preset_cache.clear()
        self._preset_cache[key] = (time.monotonic() + self._preset_ttl, response.preset)
        return response.preset

    async def participant(self, app_id: str, meeting_id: str, participant_id: str) -> participant_pb2.Participant:
        try:
            response = await self._participants.GetParticipant(
                participant_service_pb2.GetParticipantRequest(app_id=app_id, meeting_id=meeting_id,
                                                              participant_id=participant_id),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            raise _translate("GetParticipant", exc, ApiError(
                "PARTICIPANT_NOT_FOUND", f"No participant with id {participant_id}.",
                participantId=participant_id)) from exc
        return response.participant


class GrpcTokenRevoker:
    """AuthService.RevokeParticipantTokens."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, timeout: float = 5.0) -> None:
        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout

    async def revoke(self, app_id: str, participant_id: str) -> None:
        await self._stub.RevokeParticipantTokens(
            auth_service_pb2.RevokeParticipantTokensRequest(app_id=app_id, participant_id=participant_id),
            metadata=self._metadata, timeout=self._timeout)


class NatsSignalSink:
    """Core NATS publish of binary ServerMessages on realtime.signal.v1.peers.<peer_id>."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    async def send(self, peer_id: str, message: signal_pb2.ServerMessage) -> None:
        await self._bus.publish_core(signal_subject(peer_id), message.SerializeToString())
