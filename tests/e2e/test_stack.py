"""The stack as an operator meets it: `rtk run`, health, reflection, credentials, restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rtk_cli.embedded import free_port, port_open

GRPCURL = str(Path(sys.executable).parent / "grpcurl")

EXPECTED_SERVICES = {
    "meeting": {"realtime.meeting.v1.MeetingService", "realtime.meeting.v1.PresetService",
                "realtime.meeting.v1.ParticipantService"},
    "auth": {"realtime.auth.v1.AuthService"},
}


def test_every_service_is_healthy_and_reflectable(stack):
    for name, address in stack.grpc.items():
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for key in ("", "liveness"):
                status = health.Check(health_pb2.HealthCheckRequest(service=key), timeout=5).status
                assert status == health_pb2.HealthCheckResponse.SERVING, (name, key)
        listed = subprocess.run([GRPCURL, "-plaintext", address, "list"], capture_output=True, text=True, timeout=30)
        assert listed.returncode == 0, listed.stderr
        services = set(listed.stdout.split())
        assert "grpc.health.v1.Health" in services
        assert EXPECTED_SERVICES.get(name, set()) <= services, (name, services)


def test_grpcurl_call_with_api_token_as_in_readme(stack):
    request = json.dumps({"app_id": stack.app_id, "page_size": 5})
    ok = subprocess.run(
        [GRPCURL, "-plaintext", "-H", f"authorization: Bearer {stack.api_token}", "-d", request,
         stack.grpc["meeting"], "realtime.meeting.v1.MeetingService/ListMeetings"],
        capture_output=True, text=True, timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
    refused = subprocess.run(
        [GRPCURL, "-plaintext", "-H", "authorization: Bearer not-a-token", "-d", request,
         stack.grpc["meeting"], "realtime.meeting.v1.MeetingService/ListMeetings"],
        capture_output=True, text=True, timeout=30,
    )
    assert refused.returncode != 0
    assert "Code: Unauthenticated" in refused.stderr


async def test_credentials_file_and_openapi_document(stack):
    saved = json.loads((stack.dev.data_dir / "credentials.json").read_text())
    assert {"account_id", "app_id", "api_token", "gateway_url", "grpc"} <= set(saved)
    assert {"meeting", "auth", "gateway"} <= set(saved["grpc"])
    assert oct((stack.dev.data_dir / "credentials.json").stat().st_mode & 0o777) == "0o600"
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        spec = (await client.get("/openapi.json")).json()
        prefix = "/client/v4/accounts/{account_id}/realtime/kit/{app_id}"
        for path in ("/meetings", "/meetings/{meeting_id}", "/meetings/{meeting_id}/participants", "/presets"):
            assert prefix + path in spec["paths"], path
        assert "/client/v4/accounts/{account_id}/realtime/kit/apps" in spec["paths"]


async def test_unknown_routes_and_missing_tokens_use_the_error_envelope(stack):
    async with httpx.AsyncClient(base_url=stack.gateway_url) as client:
        missing = await client.get(f"{stack.base}/meetings")
        assert missing.status_code == 401
        assert missing.json() == {"success": False, "error": {"code": 401, "message": missing.json()["error"]["message"],
                                                               "reason": "TOKEN_MISSING"}}
        nowhere = await client.get("/client/v4/nothing-here")
        assert nowhere.status_code == 404 and nowhere.json()["success"] is False


def _wait_for_file(path: Path, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"rtk run exited early with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError("rtk run did not write credentials in time")
        time.sleep(0.1)


def _rtk_run(data_dir: Path, http_port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("RTK_DATABASE_URL", "RTK_NATS_URL")}
    env["RTK_HTTP_PORT"] = str(http_port)
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "rtk"), "run", "--data-dir", str(data_dir), "--quiet", "--free-ports"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _stop(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    return output


@pytest.mark.slow
def test_rtk_run_starts_everything_embedded_and_stops_cleanly_keeping_data(tmp_path):
    data_dir = tmp_path / "rtk"
    port = free_port()
    first = _rtk_run(data_dir, port)
    try:
        _wait_for_file(data_dir / "credentials.json", first, timeout=90)
        # the banner is printed right after the credentials are written
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", port) and time.monotonic() < deadline:
            time.sleep(0.1)
        creds = json.loads((data_dir / "credentials.json").read_text())
        children = psutil.Process(first.pid).children(recursive=True)
        assert len(children) >= 4  # nats, postgres, and one process per service
        base = f"{creds['gateway_url']}/client/v4/accounts/{creds['account_id']}/realtime/kit/{creds['app_id']}"
        headers = {"Authorization": f"Bearer {creds['api_token']}"}
        created = httpx.post(f"{base}/meetings", json={"title": "survives restarts"}, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
        meeting_id = created.json()["data"]["id"]
    finally:
        output = _stop(first)
    assert first.returncode == 0, output
    assert "API token" in output and creds["api_token"] in output
    time.sleep(0.5)
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], "processes left behind"

    second = _rtk_run(data_dir, port)
    try:
        deadline = time.monotonic() + 90
        while not port_open("127.0.0.1", port):
            assert second.poll() is None, second.stdout.read() if second.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
        again = json.loads((data_dir / "credentials.json").read_text())
        assert (again["account_id"], again["app_id"], again["api_token"]) == (
            creds["account_id"], creds["app_id"], creds["api_token"])
        fetched = httpx.get(f"{base}/meetings/{meeting_id}", headers=headers, timeout=30)
        assert fetched.status_code == 200 and fetched.json()["data"]["title"] == "survives restarts"
    finally:
        _stop(second)
    assert second.returncode == 0


def _reachable(host: str, port: int) -> bool:
    return port_open(host, port)


@pytest.mark.skipif(
    not (_reachable("127.0.0.1", 5432) and _reachable("127.0.0.1", 4222)),
    reason="no Postgres on 127.0.0.1:5432 and NATS on 127.0.0.1:4222 on this machine",
)
async def test_external_postgres_and_nats_replace_the_embedded_ones(tmp_path):
    import asyncpg
    from rtk_cli.devstack import DevStack

    admin = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"rtk_ext_{os.getpid()}_{int(time.time())}"
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    dev = DevStack(tmp_path, free_ports=True, log_to_files=True, extra_env={
        "RTK_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
        "RTK_NATS_URL": "nats://127.0.0.1:4222",
    })
    creds = dev.start(timeout=90)
    try:
        assert dev.postgres is None and dev.nats is None
        base = f"{creds['gateway_url']}/client/v4/accounts/{creds['account_id']}/realtime/kit/{creds['app_id']}"
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {creds['api_token']}"}) as client:
            created = await client.post(f"{base}/meetings", json={"title": "external"})
            assert created.status_code == 201
        conn = await asyncpg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}")
        try:
            assert await conn.fetchval("SELECT count(*) FROM meeting.meetings WHERE title = 'external'") == 1
        finally:
            await conn.close()
    finally:
        dev.stop()
