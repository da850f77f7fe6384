"""MeetingDirectory backed by `realtime.meeting.v1.MeetingService.GetMeeting` (internal token)."""

from __future__ import annotations

import grpc
from realtime.meeting.v1 import meeting_pb2, meeting_service_pb2, meeting_service_pb2_grpc
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError, decode_rpc_error


class GrpcMeetingDirectory:
    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, timeout: float = 2.0) -> None:
        self._stub = meeting_service_pb2_grpc.MeetingServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout

    async def is_active(self, app_id: str, meeting_id: str) -> bool:
        try:
            response = await self._stub.GetMeeting(
                meeting_service_pb2.GetMeetingRequest(app_id=app_id, meeting_id=meeting_id),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            if decoded.reason in ("MEETING_NOT_FOUND", "APP_NOT_FOUND") or exc.code() == grpc.StatusCode.NOT_FOUND:
                raise ApiError("MEETING_NOT_FOUND", f"No meeting with id {meeting_id}.", meetingId=meeting_id) from None
            raise ApiError(
                "DEPENDENCY_UNAVAILABLE", "The meeting service is unavailable; retry shortly."
            ) from None
        return response.meeting.status == meeting_pb2.MEETING_STATUS_ACTIVE
