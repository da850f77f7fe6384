"""Postgres restarting under the running stack: fail fast with 503, recover alone, lose nothing."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest


async def test_postgres_restart_fails_fast_and_loses_no_acknowledged_write(stack, infra):
    if infra.postgres is None:
        pytest.skip("Postgres is external (RTK_DATABASE_URL); this test restarts the embedded one")
    async with stack.client() as client:
        created = await client.post(f"{stack.base}/meetings", json={"title": "restart"})
        meeting_id = created.json()["data"]["id"]
        url = f"{stack.base}/meetings/{meeting_id}/participants"
        acknowledged: list[str] = []
        statuses: list[int] = []
        slowest_failure = 0.0
        restart = asyncio.create_task(asyncio.to_thread(infra.postgres.restart))
        counter = 0
        recovered_at = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counter += 1
            body = {"name": f"p{counter}", "preset_name": "group_call_participant", "custom_participant_id": f"c{counter}"}
            started = time.monotonic()
            try:
                response = await client.post(url, json=body, timeout=15)
            except httpx.TransportError:  # the gateway itself must never drop the connection
                pytest.fail("gateway dropped a request while Postgres restarted")
            statuses.append(response.status_code)
            assert response.status_code in (201, 503), response.text
            if response.status_code == 503:
                assert response.json()["success"] is False
                slowest_failure = max(slowest_failure, time.monotonic() - started)
            else:
                acknowledged.append(response.json()["data"]["id"])
            if restart.done() and response.status_code == 201:
                recovered_at = recovered_at or time.monotonic()
                if 503 in statuses and len([s for s in statuses[-5:] if s == 201]) == 5:
                    break
            await asyncio.sleep(0.01)
        await restart
        assert 503 in statuses, "the restart was not observed; test did not exercise the fault"
        assert statuses[-1] == 201, "the stack did not recover by itself"
        # A request that fails does so within the database connect/command timeouts, not hanging.
        assert slowest_failure < 10, slowest_failure

        listed: set[str] = set()
        page = 1
        while True:
            response = await client.get(url, params={"page_no": page, "per_page": 100})
            data = response.json()["data"]
            listed.update(p["id"] for p in data)
            if len(data) < 100:
                break
            page += 1
        assert set(acknowledged) <= listed, "an acknowledged write was lost"


async def test_auth_service_down_fails_adds_cleanly_and_they_work_again_after_it_returns(stack):
    """Participant tokens come from the auth service (batched across concurrent adds). With it
    down, every add fails fast with DEPENDENCY_UNAVAILABLE and leaves no participant behind; once
    it is back, adds succeed again without restarting anything else."""
    import grpc
    from realtime.meeting.v1 import (
        meeting_pb2,
        meeting_service_pb2,
        meeting_service_pb2_grpc,
        participant_pb2,
        participant_service_pb2,
        participant_service_pb2_grpc,
    )
    from rtkit.clients import internal_metadata
    from rtkit.errors import decode_rpc_error

    md = internal_metadata(stack.internal_token)
    async with grpc.aio.insecure_channel(stack.grpc["meeting"]) as channel:
        meetings = meeting_service_pb2_grpc.MeetingServiceStub(channel)
        participants = participant_service_pb2_grpc.ParticipantServiceStub(channel)
        meeting = (await meetings.CreateMeeting(meeting_service_pb2.CreateMeetingRequest(
            app_id=stack.app_id, meeting=meeting_pb2.Meeting(title="auth down")), metadata=md)).meeting

        def add(i: int):
            return participants.AddParticipant(participant_service_pb2.AddParticipantRequest(
                app_id=stack.app_id, meeting_id=meeting.id,
                participant=participant_pb2.Participant(custom_participant_id=f"a{i}", preset_name="group_call_host")),
                metadata=md, timeout=20)

        await add(0)
        await asyncio.to_thread(stack.dev.stop_service, "auth")
        try:
            started = time.monotonic()
            results = await asyncio.gather(*(add(i) for i in range(1, 9)), return_exceptions=True)
            elapsed = time.monotonic() - started
            assert all(isinstance(r, grpc.aio.AioRpcError) for r in results), results
            reasons = {decode_rpc_error(r).reason for r in results}
            assert reasons == {"DEPENDENCY_UNAVAILABLE"}, reasons
            assert elapsed < 15, elapsed  # bounded by the auth call's deadline, not hanging
            listed = await participants.ListParticipants(participant_service_pb2.ListParticipantsRequest(
                app_id=stack.app_id, meeting_id=meeting.id, page_size=50), metadata=md)
            assert [p.custom_participant_id for p in listed.participants] == ["a0"]  # nothing half-written
        finally:
            await asyncio.to_thread(stack.dev.restart_service, "auth")

        # Recovers by itself once the meeting service's channel reconnects (backoff ≤ 2 s).
        deadline = time.monotonic() + 15
        while True:
            try:
                await add(9)
                break
            except grpc.aio.AioRpcError as exc:
                assert decode_rpc_error(exc).reason == "DEPENDENCY_UNAVAILABLE"
                assert time.monotonic() < deadline, "adds did not recover after the auth service returned"
                await asyncio.sleep(0.2)
        again = await asyncio.gather(*(add(i) for i in range(10, 14)))
        assert all(a.token and a.participant.custom_participant_id == f"a{10 + n}" for n, a in enumerate(again))
