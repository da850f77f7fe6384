"""Logs, traces and metrics as an operator reads them."""

from __future__ import annotations

import asyncio
import json
import secrets

import httpx


async def _meeting_log_lines(stack, meeting_id: str) -> list[dict]:
    log_path = stack.dev.logs_dir / "meeting.log"
    for _ in range(50):
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        mine = [line for line in lines if line.get("meeting_id") == meeting_id]
        if mine:
            return mine
        await asyncio.sleep(0.1)
    raise AssertionError("the meeting service logged nothing about the new meeting")


async def test_trace_context_flows_from_rest_into_service_logs(stack):
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    async with stack.client() as client:
        response = await client.post(f"{stack.base}/meetings", json={"title": "traced"},
                                     headers={"traceparent": traceparent})
        assert response.status_code == 201
    mine = await _meeting_log_lines(stack, response.json()["data"]["id"])
    assert mine[0]["trace_id"] == trace_id  # the REST caller's trace continues through gRPC
    assert len(mine[0]["span_id"]) == 16
    assert mine[0]["service"] == "meeting" and mine[0]["level"] == "info" and "timestamp" in mine[0]


async def test_untraced_requests_still_get_trace_ids_in_logs(stack):
    """Without an exporter new traces are not sampled, but every log line still has ids."""
    async with stack.client() as client:
        response = await client.post(f"{stack.base}/meetings", json={"title": "untraced"})
        assert response.status_code == 201
    line = (await _meeting_log_lines(stack, response.json()["data"]["id"]))[0]
    assert len(line["trace_id"]) == 32 and int(line["trace_id"], 16) != 0
    assert len(line["span_id"]) == 16 and int(line["span_id"], 16) != 0


async def test_every_service_exposes_prometheus_metrics(stack):
    async with stack.client() as client:
        await client.get(f"{stack.base}/meetings")
    async with httpx.AsyncClient() as client:
        for name, svc in stack.dev.services.items():
            body = (await client.get(f"http://127.0.0.1:{svc.metrics_port}/metrics")).text
            assert "process_cpu_seconds_total" in body, name
        meeting = stack.dev.services["meeting"]
        body = (await client.get(f"http://127.0.0.1:{meeting.metrics_port}/metrics")).text
        assert 'rtk_grpc_server_requests_total{code="OK",method="/realtime.meeting.v1.MeetingService/ListMeetings"' \
               in body
