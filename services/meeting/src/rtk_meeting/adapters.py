"""Real implementations of the domain ports: the auth service over gRPC and NATS JetStream."""

from __future__ import annotations

import asyncio
import uuid

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from realtime.events.v1 import event_pb2
from rtkit.batching import GroupCommit
from rtkit.bus import EventBus, event_subject
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_meeting.domain.ports import IssuedToken

log = get_logger("rtk_meeting.adapters")


class GrpcTokenIssuer:
    """Participant tokens from the auth service. Concurrent issues are coalesced into one
    BatchIssueParticipantTokens call (no added delay; see rtkit.batching), which pays the gRPC
    hop once per batch: on the add-participant hot path that hop cost more CPU than signing."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, timeout: float = 5.0,
                 max_batch: int = 64) -> None:
        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout
        self._batches: GroupCommit[auth_service_pb2.IssueParticipantTokenRequest, IssuedToken] = GroupCommit(
            self._issue_batch, max_batch=max_batch, max_inflight=1, name="token-issuer"
        )

    async def issue(self, *, app_id: str, meeting_id: str, participant_id: str, preset_id: str) -> IssuedToken:
        return await self._batches.submit(auth_service_pb2.IssueParticipantTokenRequest(
            app_id=app_id, meeting_id=meeting_id, participant_id=participant_id, preset_id=preset_id
        ))

    async def _issue_batch(self, requests: list[auth_service_pb2.IssueParticipantTokenRequest]) -> list[IssuedToken]:
        try:
            response = await self._stub.BatchIssueParticipantTokens(
                auth_service_pb2.BatchIssueParticipantTokensRequest(requests=requests),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _dependency_error("BatchIssueParticipantTokens", exc) from exc
        return [IssuedToken(token=r.token, token_id=r.token_id) for r in response.responses]

    async def close(self) -> None:
        await self._batches.close()

    async def revoke(self, *, app_id: str, participant_id: str, except_token_id: str = "") -> int:
        try:
            response = await self._stub.RevokeParticipantTokens(
                auth_service_pb2.RevokeParticipantTokensRequest(
                    app_id=app_id, participant_id=participant_id, except_token_id=except_token_id
                ),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _dependency_error("RevokeParticipantTokens", exc) from exc
        return response.revoked_count


def _dependency_error(method: str, exc: grpc.aio.AioRpcError) -> ApiError:
    log.warning("auth_call_failed", method=method, code=exc.code().name, error=exc.details())
    return ApiError("DEPENDENCY_UNAVAILABLE", f"The auth service failed ({method}: {exc.code().name}).")


class NatsEventPublisher:
    """Publishes events to JetStream after commit. Publishing is retried briefly; a change whose
    event cannot be published is still committed (logged as `event_publish_failed`)."""

    def __init__(self, bus: EventBus, *, attempts: int = 3) -> None:
        self._bus = bus
        self._attempts = attempts

    async def publish(self, *, app_id: str, collection: str, resource_id: str, event: str, payload_field: str,
                      payload: Message) -> None:
        envelope = event_pb2.Event(event_id=str(uuid.uuid4()), app_id=app_id, occur_time=_now())
        getattr(envelope, payload_field).CopyFrom(payload)
        subject = event_subject(app_id, collection, resource_id, event)
        for attempt in range(1, self._attempts + 1):
            try:
                await self._bus.publish(subject, envelope, event_id=envelope.event_id)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - same event id: JetStream de-duplicates retries
                if attempt == self._attempts:
                    log.error("event_publish_failed", subject=subject, event_id=envelope.event_id, error=str(exc),
                              app_id=app_id)
                    return
                await asyncio.sleep(0.2 * attempt)


class NullEventPublisher:
    """Publishes nothing (tools and tests that do not run NATS)."""

    async def publish(self, **_: object) -> None:
        return None


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts
