"""Real implementations of the domain ports: the auth service over gRPC, and events through the
transactional outbox to NATS JetStream."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

import asyncpg
import grpc
from google.protobuf import timestamp_pb2
from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc
from realtime.events.v1 import event_pb2
from rtkit import outbox
from rtkit.batching import GroupCommit
from rtkit.bus import event_subject
from rtkit.clients import internal_metadata
from rtkit.errors import ApiError
from rtkit.logging import get_logger
from rtkit.outbox import OutboxRelay

from rtk_meeting.domain.ports import IssuedToken, PendingEvent, TokenRequest

log = get_logger("rtk_meeting.adapters")


class GrpcTokenIssuer:
    """Participant tokens from the auth service. Concurrent requests (each a list: one add, or one
    batch of adds) are coalesced into one BatchIssueParticipantTokens call (no added delay; see
    rtkit.batching), which pays the gRPC hop once per flush: on the add-participant hot path that
    hop cost more CPU than signing. A flush is all or nothing, so each request's tokens are too."""

    def __init__(self, channel: grpc.aio.Channel, internal_token: str, *, timeout: float = 5.0,
                 max_tokens_per_call: int = 500) -> None:
        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = internal_metadata(internal_token)
        self._timeout = timeout
        self._max_tokens = max_tokens_per_call
        self._batches: GroupCommit[list[TokenRequest], list[IssuedToken]] = GroupCommit(
            self._issue_batch, max_batch=64, max_inflight=2, name="token-issuer", item_size=len
        )

    async def issue(self, *, app_id: str, meeting_id: str, participant_id: str, preset_id: str) -> IssuedToken:
        (issued,) = await self.issue_many([TokenRequest(app_id, meeting_id, participant_id, preset_id)])
        return issued

    async def issue_many(self, requests: list[TokenRequest]) -> list[IssuedToken]:
        if len(requests) > self._max_tokens:
            raise ValueError(f"at most {self._max_tokens} tokens per request")
        return await self._batches.submit(requests)

    async def _issue_batch(self, batch: list[list[TokenRequest]]) -> list[list[IssuedToken]]:
        calls: list[list[list[TokenRequest]]] = [[]]
        size = 0
        for requests in batch:  # whole requests per call, at most max_tokens per call
            if calls[-1] and size + len(requests) > self._max_tokens:
                calls.append([])
                size = 0
            calls[-1].append(requests)
            size += len(requests)
        answers = await asyncio.gather(*(self._call([r for requests in call for r in requests]) for call in calls))
        results: list[list[IssuedToken]] = []
        for call, issued in zip(calls, answers, strict=True):
            at = 0
            for requests in call:
                results.append(issued[at:at + len(requests)])
                at += len(requests)
        return results

    async def _call(self, requests: list[TokenRequest]) -> list[IssuedToken]:
        try:
            response = await self._stub.BatchIssueParticipantTokens(
                auth_service_pb2.BatchIssueParticipantTokensRequest(requests=[
                    auth_service_pb2.IssueParticipantTokenRequest(
                        app_id=r.app_id, meeting_id=r.meeting_id, participant_id=r.participant_id,
                        preset_id=r.preset_id,
                    ) for r in requests
                ]),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _dependency_error("BatchIssueParticipantTokens", exc) from exc
        if len(response.responses) != len(requests):
            raise ApiError("DEPENDENCY_UNAVAILABLE", "The auth service answered a different number of tokens.")
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


class OutboxEvents:
    """The domain's EventRecorder on rtkit.outbox: events are rows of meeting.outbox, written in
    the change's transaction (one statement per call), and the relay publishes them to JetStream
    in commit order once `committed()` wakes it. Without a relay (tools, tests) the rows wait for
    the service's."""

    def __init__(self, relay: OutboxRelay | None = None) -> None:
        self.relay = relay

    async def record(self, conn: asyncpg.Connection, events: Sequence[PendingEvent]) -> None:
        if not events:
            return
        now = _now()
        rows = []
        for e in events:
            envelope = event_pb2.Event(event_id=str(uuid.uuid4()), app_id=e.app_id, occur_time=now)
            getattr(envelope, e.event).CopyFrom(e.payload)
            rows.append((event_subject(e.app_id, e.collection, e.resource_id, e.event), envelope, envelope.event_id))
        await outbox.add_many(conn, rows)

    def committed(self) -> None:
        if self.relay is not None:
            self.relay.wake()


class NullEventRecorder:
    """Records nothing (RTK_MEETING_PUBLISH_EVENTS=false: a deployment without NATS)."""

    async def record(self, conn: object, events: Sequence[PendingEvent]) -> None:
        return None

    def committed(self) -> None:
        return None


def _now() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.GetCurrentTime()
    return ts
