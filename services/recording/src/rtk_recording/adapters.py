"""Real implementations of the domain ports: the meeting service (meetings, the recorder bot
participant) and the orchestrator (live sessions) over gRPC with the internal token."""

from __future__ import annotations

import grpc
from realtime.meeting.v1 import (
    meeting_pb2,
    meeting_service_pb2,
    meeting_service_pb2_grpc,
    participant_pb2,
    participant_service_pb2,
    participant_service_pb2_grpc,
)
from realtime.session.v1 import session_pb2, session_service_pb2, session_service_pb2_grpc
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError, decode_rpc_error
from rtkit.logging import get_logger

log = get_logger("rtk_recording.adapters")


def _unavailable(service: str, method: str, exc: grpc.aio.AioRpcError) -> ApiError:
    log.warning("dependency_call_failed", method=method, code=exc.code().name, error=exc.details())
    return ApiError("DEPENDENCY_UNAVAILABLE", f"The {service} failed ({method}: {exc.code().name}).")


class GrpcDirectory:
    def __init__(self, meeting_channel: grpc.aio.Channel, orchestrator_channel: grpc.aio.Channel,
                 internal_token: str, *, timeout: float = 5.0) -> None:
        self._meetings = meeting_service_pb2_grpc.MeetingServiceStub(meeting_channel)
        self._participants = participant_service_pb2_grpc.ParticipantServiceStub(meeting_channel)
        self._sessions = session_service_pb2_grpc.SessionServiceStub(orchestrator_channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout

    async def meeting(self, app_id: str, meeting_id: str) -> meeting_pb2.Meeting:
        try:
            response = await self._meetings.GetMeeting(
                meeting_service_pb2.GetMeetingRequest(app_id=app_id, meeting_id=meeting_id),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise ApiError("MEETING_NOT_FOUND", f"No meeting with id {meeting_id}.", meetingId=meeting_id) from exc
            if decoded.reason == "APP_NOT_FOUND":
                raise ApiError("APP_NOT_FOUND", decoded.message, appId=app_id) from exc
            raise _unavailable("meeting service", "GetMeeting", exc) from exc
        return response.meeting

    async def active_session(self, app_id: str, meeting_id: str) -> session_pb2.Session | None:
        try:
            response = await self._sessions.GetActiveSession(
                session_service_pb2.GetActiveSessionRequest(app_id=app_id, meeting_id=meeting_id),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                return None
            raise _unavailable("orchestrator", "GetActiveSession", exc) from exc
        return response.session

    async def add_recorder_participant(self, app_id: str, meeting_id: str, preset_name: str, name: str,
                                       custom_id: str) -> tuple[str, str]:
        participant = participant_pb2.Participant(custom_participant_id=custom_id, preset_name=preset_name, name=name)
        try:
            response = await self._participants.AddParticipant(
                participant_service_pb2.AddParticipantRequest(app_id=app_id, meeting_id=meeting_id,
                                                              participant=participant),
                metadata=self._metadata, timeout=self._timeout)
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            if decoded.reason in ("PRESET_NOT_FOUND", "MEETING_NOT_FOUND", "MEETING_INACTIVE", "INVALID_FIELD"):
                raise ApiError(decoded.reason, f"Cannot create the recorder participant: {decoded.message}") from exc
            raise _unavailable("meeting service", "AddParticipant", exc) from exc
        return response.participant.id, response.token
