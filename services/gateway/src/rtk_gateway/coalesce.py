"""Concurrent add-participant requests share one BatchAddParticipants call per meeting.

A REST add is one item; rtkit.batching.GroupCommit collects the items that arrive while earlier
calls are in flight (no timer: at low load a call carries one item). One flush sends one call per
(credentials, app, meeting), so a batch never mixes callers or tenants, and each request gets
its own item's outcome: a participant with its token, or the error that item alone would have
got. Why: the gRPC hop, the meeting service's transaction and its token call cost more CPU than
the work of one item; paid once per batch, they stop dominating (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import NamedTuple

import grpc
from realtime.meeting.v1 import participant_pb2, participant_service_pb2
from rtkit.batching import GroupCommit
from rtkit.errors import ItemError, decode_status

MAX_ITEMS_PER_CALL = 100  # the meeting service's limit per BatchAddParticipants call


class _Key(NamedTuple):
    metadata: tuple[tuple[str, str], ...]
    app_id: str
    meeting_id: str


class _Item(NamedTuple):
    key: _Key
    participant: participant_pb2.Participant


_Outcome = participant_service_pb2.AddParticipantResponse | BaseException


class ParticipantAdder:
    def __init__(self, stub, *, timeout: float, max_inflight: int = 4) -> None:  # noqa: ANN001
        self._stub = stub
        self._timeout = timeout
        self._batches: GroupCommit[_Item, _Outcome] = GroupCommit(
            self._flush, max_batch=4 * MAX_ITEMS_PER_CALL, max_inflight=max_inflight, name="gateway-add-participant"
        )

    async def add(self, metadata: tuple[tuple[str, str], ...], app_id: str, meeting_id: str,
                  participant: participant_pb2.Participant) -> participant_service_pb2.AddParticipantResponse:
        """The participant and its token; raises the call's or the item's error."""
        outcome = await self._batches.submit(_Item(_Key(metadata, app_id, meeting_id), participant))
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def close(self) -> None:
        await self._batches.close()

    async def _flush(self, items: list[_Item]) -> list[_Outcome]:
        positions: dict[_Key, list[int]] = defaultdict(list)
        for index, item in enumerate(items):
            positions[item.key].append(index)
        calls = []
        for key, indexes in positions.items():
            for start in range(0, len(indexes), MAX_ITEMS_PER_CALL):
                chunk = indexes[start:start + MAX_ITEMS_PER_CALL]
                calls.append((key, chunk))
        outcomes: list[_Outcome] = [RuntimeError("no outcome")] * len(items)
        results = await asyncio.gather(*(self._call(key, [items[i].participant for i in chunk])
                                         for key, chunk in calls))
        for (_, chunk), chunk_outcomes in zip(calls, results, strict=True):
            for index, outcome in zip(chunk, chunk_outcomes, strict=True):
                outcomes[index] = outcome
        return outcomes

    async def _call(self, key: _Key, participants: list[participant_pb2.Participant]) -> list[_Outcome]:
        try:
            response = await self._stub.BatchAddParticipants(
                participant_service_pb2.BatchAddParticipantsRequest(
                    app_id=key.app_id, meeting_id=key.meeting_id, participants=participants
                ),
                metadata=key.metadata, timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:  # the whole call failed: every item gets its error
            return [exc] * len(participants)
        if len(response.results) != len(participants):
            error = RuntimeError(f"BatchAddParticipants: {len(response.results)} results for {len(participants)}")
            return [error] * len(participants)
        return [r.added if r.HasField("added") else ItemError(decode_status(r.error)) for r in response.results]
