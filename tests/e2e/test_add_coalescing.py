"""Concurrent REST add-participant requests, coalesced by the gateway into BatchAddParticipants
calls: every request still gets exactly its own outcome, as if it had been sent alone."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import httpx
import jwt
import pytest

pytestmark = pytest.mark.slow

BATCH_METRIC = "rtk_group_commit_batch_size"
ADDER = "gateway-add-participant"


def _metric(body: str, series: str) -> float | None:
    match = re.search(rf'^{series}\{{[^}}]*name="{ADDER}"[^}}]*\}} ([0-9.e+-]+)$', body, re.MULTILINE)
    return float(match.group(1)) if match else None


async def _adder_metrics(stack) -> tuple[float, float] | None:
    """(count, sum) of the gateway adder's batch-size histogram, or None if it is not exported."""
    service = stack.dev.services.get("gateway")
    if service is None or not getattr(service, "metrics_port", None):
        return None
    async with httpx.AsyncClient(timeout=10) as client:
        try:
            body = (await client.get(f"http://127.0.0.1:{service.metrics_port}/metrics")).text
        except httpx.TransportError:
            return None
    count, total = _metric(body, f"{BATCH_METRIC}_count"), _metric(body, f"{BATCH_METRIC}_sum")
    if count is None or total is None:
        return None
    return count, total


async def _list_ids(client: httpx.AsyncClient, url: str) -> list[str]:
    ids: list[str] = []
    page = 1
    while True:
        response = await client.get(url, params={"page_no": page, "per_page": 100})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        ids.extend(p["id"] for p in data)
        if len(data) < 100:
            return ids
        page += 1


async def test_concurrent_adds_each_get_their_own_outcome(stack):
    async with stack.client() as client:
        meeting_a = (await client.post(f"{stack.base}/meetings", json={"title": "coalesce a"})).json()["data"]["id"]
        meeting_b = (await client.post(f"{stack.base}/meetings", json={"title": "coalesce b"})).json()["data"]["id"]
        wrong_meeting = str(uuid.uuid4())
        jwks = (await client.get("/.well-known/jwks.json")).json()
    keys = {k.key_id: k for k in jwt.PyJWKSet.from_json(json.dumps(jwks)).keys}
    metrics_before = await _adder_metrics(stack)

    presets = ["group_call_host", "group_call_participant", "webinar_viewer", "webinar_presenter"]
    # (meeting, body, expected to succeed)
    requests: list[tuple[str, dict[str, Any], bool]] = []
    for i in range(40):
        body: dict[str, Any] = {"custom_participant_id": f"cp-{i}", "preset_name": presets[i % len(presets)],
                                "name": f"User {i}"}
        meeting, good = meeting_a, True
        if i % 10 == 3:  # 4 unknown presets
            body["preset_name"], good = f"no-such-preset-{i}", False
        elif i % 10 == 7:  # 4 to the second meeting
            meeting = meeting_b
        elif i in (5, 25):  # rejected by the meeting service's own checks, not the REST model
            body["picture"], good = "ftp://example.com/x.png", False
        elif i == 19:
            meeting, good = wrong_meeting, False
        requests.append((meeting, body, good))

    async with stack.client() as client:
        async def post(meeting: str, body: dict[str, Any]) -> httpx.Response:
            return await client.post(f"{stack.base}/meetings/{meeting}/participants", json=body)

        responses = await asyncio.gather(*(post(m, b) for m, b, _ in requests))

        seen_ids: set[str] = set()
        seen_tokens: set[str] = set()
        good_by_meeting: dict[str, set[str]] = {meeting_a: set(), meeting_b: set()}
        bad: list[tuple[str, dict[str, Any], httpx.Response]] = []
        for (meeting, body, good), response in zip(requests, responses, strict=True):
            if not good:
                bad.append((meeting, body, response))
                continue
            assert response.status_code == 201, (body, response.text)
            envelope = response.json()
            assert envelope["success"] is True
            data = envelope["data"]
            # The caller's own participant, not a neighbour's from the same batch.
            assert (data["custom_participant_id"], data["preset_name"], data["name"]) == (
                body["custom_participant_id"], body["preset_name"], body["name"])
            assert data["id"] not in seen_ids and data["token"] not in seen_tokens
            seen_ids.add(data["id"])
            seen_tokens.add(data["token"])
            good_by_meeting[meeting].add(data["id"])
            header = jwt.get_unverified_header(data["token"])
            claims = jwt.decode(data["token"], keys[header["kid"]].key, algorithms=["RS256"],
                                options={"verify_aud": False})
            assert claims["participantId"] == data["id"] and claims["meetingId"] == meeting, claims
            # Readable afterwards as the same participant.
            fetched = await client.get(f"{stack.base}/meetings/{meeting}/participants/{data['id']}")
            assert fetched.status_code == 200 and fetched.json()["data"]["custom_participant_id"] == (
                body["custom_participant_id"])
        assert len(seen_ids) == sum(good for *_, good in requests) == 33
        assert len(good_by_meeting[meeting_b]) == 4

        # Every bad request got exactly what it gets when sent alone.
        assert len(bad) == 7
        for meeting, body, response in bad:
            alone = await post(meeting, body)
            assert (response.status_code, response.json()) == (alone.status_code, alone.json()), body
            envelope = response.json()
            assert envelope["success"] is False and set(envelope) == {"success", "error"}
            assert {"code", "message"} <= set(envelope["error"])
            assert envelope["error"]["code"] == response.status_code
        reasons = {(m == wrong_meeting, b.get("picture") is not None, r.status_code, r.json()["error"].get("reason"))
                   for m, b, r in bad}
        assert reasons == {(False, False, 404, "PRESET_NOT_FOUND"), (False, True, 400, "INVALID_FIELD"),
                           (True, False, 404, "MEETING_NOT_FOUND")}

        # Each meeting lists exactly its good participants (the bad ones were never written).
        for meeting, ids in good_by_meeting.items():
            listed = await _list_ids(client, f"{stack.base}/meetings/{meeting}/participants")
            assert sorted(listed) == sorted(ids), meeting
        assert (await client.get(f"{stack.base}/meetings/{wrong_meeting}/participants")).status_code == 404

    metrics_after = await _adder_metrics(stack)
    assert metrics_before is not None and metrics_after is not None, "gateway adder batch metric not exported"
    count, total = metrics_after
    assert count >= 1
    # Every add that reached the adder (the burst and the 7 repeats) is one item of some batch;
    # how they were grouped depends on timing and is not asserted.
    assert total - metrics_before[1] == len(requests) + len(bad)
    assert 1 <= count - metrics_before[0] <= len(requests) + len(bad)


async def test_one_flush_splits_by_tenant_and_meeting_and_at_the_call_limit(stack):
    """A flush holding 230 adds for two meetings and two credentials: calls never mix meetings
    or callers, none exceeds the meeting service's 100 items, and each add gets its own result."""
    import grpc
    from realtime.meeting.v1 import participant_pb2, participant_service_pb2_grpc
    from rtk_gateway.coalesce import MAX_ITEMS_PER_CALL, ParticipantAdder, _Item, _Key
    from rtkit.clients import ACCOUNT_HEADER
    from rtkit.errors import ItemError

    async with stack.client() as client:
        meetings = [(await client.post(f"{stack.base}/meetings", json={"title": f"flush {i}"})).json()["data"]["id"]
                    for i in range(2)]
    ours = (("authorization", f"Bearer {stack.api_token}"), (ACCOUNT_HEADER, stack.account_id))
    wrong = (("authorization", "Bearer not-a-token"), (ACCOUNT_HEADER, stack.account_id))
    channel = grpc.aio.insecure_channel(stack.grpc["meeting"])
    calls: list[int] = []

    class CountingStub:
        def __init__(self, stub) -> None:  # noqa: ANN001
            self._stub = stub

        async def BatchAddParticipants(self, request, **kwargs):  # noqa: ANN001, ANN003, N802
            calls.append(len(request.participants))
            return await self._stub.BatchAddParticipants(request, **kwargs)

    adder = ParticipantAdder(CountingStub(participant_service_pb2_grpc.ParticipantServiceStub(channel)), timeout=10)
    items = []
    for i in range(230):
        key = _Key(wrong if i % 23 == 0 else ours, stack.app_id, meetings[i % 2])
        preset = "no_such_preset" if i % 17 == 0 else "group_call_participant"
        items.append(_Item(key, participant_pb2.Participant(custom_participant_id=f"f{i}", preset_name=preset,
                                                            name=f"n{i}")))
    try:
        outcomes = await adder._flush(items)
    finally:
        await channel.close()
    assert max(calls) <= MAX_ITEMS_PER_CALL and sum(calls) == len(items) and len(calls) >= 4
    for i, (item, outcome) in enumerate(zip(items, outcomes, strict=True)):
        if item.key.metadata is wrong:
            assert isinstance(outcome, grpc.aio.AioRpcError), i
            assert outcome.code() == grpc.StatusCode.UNAUTHENTICATED
        elif i % 17 == 0:
            assert isinstance(outcome, ItemError) and outcome.decoded.reason == "PRESET_NOT_FOUND", i
        else:
            assert not isinstance(outcome, BaseException), (i, outcome)
            assert outcome.participant.custom_participant_id == f"f{i}"
            assert outcome.participant.meeting_id == meetings[i % 2]
            assert outcome.token
