"""Shared fixtures: real Postgres and NATS (embedded unless RTK_DATABASE_URL / RTK_NATS_URL are set)
and the real stack, started as separate processes exactly as `make run` does."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from rtk_cli.devstack import DevStack
from rtk_cli.embedded import EmbeddedNats, EmbeddedPostgres


@dataclass
class Infra:
    """One Postgres server and one NATS server for the whole test session."""

    admin_url: str  # a DSN on the server, used to create fresh databases
    nats_url: str
    postgres: EmbeddedPostgres | None  # set when embedded (restartable by fault tests)

    def database_url(self, name: str) -> str:
        base, _, query = self.admin_url.partition("?")
        root = base.rsplit("/", 1)[0]
        return f"{root}/{name}" + (f"?{query}" if query else "")

    async def create_database(self) -> str:
        name = f"rtk_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.database_url(name)


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    root = tmp_path_factory.mktemp("infra")
    postgres = nats = None
    admin_url = os.environ.get("RTK_DATABASE_URL")
    nats_url = os.environ.get("RTK_NATS_URL")
    if not admin_url:
        postgres = EmbeddedPostgres(root)
        admin_url = postgres.start()
    if not nats_url:
        nats = EmbeddedNats(root)
        nats_url = nats.start(root / "nats.log")
    try:
        yield Infra(admin_url=admin_url, nats_url=nats_url, postgres=postgres)
    finally:
        if nats is not None:
            nats.stop()
        if postgres is not None:
            postgres.stop()


@pytest.fixture
async def database_url(infra: Infra) -> str:
    """A fresh, empty database on the session's Postgres."""
    return await infra.create_database()


class Stack:
    """A running stack plus conveniences for REST calls as the bootstrap account."""

    def __init__(self, dev: DevStack) -> None:
        self.dev = dev
        self.credentials = dev.credentials
        self.gateway_url: str = dev.gateway_url
        self.account_id: str = dev.credentials["account_id"]  # type: ignore[assignment]
        self.app_id: str = dev.credentials["app_id"]  # type: ignore[assignment]
        self.api_token: str = dev.credentials["api_token"]  # type: ignore[assignment]
        self.grpc: dict[str, str] = dev.credentials["grpc"]  # type: ignore[assignment]
        self.internal_token = dev.internal_token

    @property
    def base(self) -> str:
        """RealtimeKit's app-scoped prefix for the bootstrap app."""
        return f"/client/v4/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.gateway_url,
            headers={"Authorization": f"Bearer {token or self.api_token}"},
            timeout=30,
        )

    def logs(self, name: str, tail: int = 60) -> str:
        path = self.dev.logs_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])


def start_stack(infra: Infra, data_dir: Path, database_url: str, extra_env: dict[str, str] | None = None) -> Stack:
    """A stack on a fresh database. Unless RTK_NATS_URL is set for the whole run, each stack gets
    its own embedded NATS: SFU heartbeats, placement pins and consumers never cross stacks."""
    env = {"RTK_DATABASE_URL": database_url, "RTK_LOG_LEVEL": "info"}
    if os.environ.get("RTK_NATS_URL"):
        env["RTK_NATS_URL"] = infra.nats_url
    env.update(extra_env or {})
    dev = DevStack(data_dir, free_ports=True, extra_env=env, log_to_files=True)
    dev.start(timeout=90)
    return Stack(dev)


@pytest.fixture(scope="session")
async def stack(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    """The real stack on a fresh database, shared by the session's end-to-end tests."""
    database_url = await infra.create_database()
    running = start_stack(infra, tmp_path_factory.mktemp("stack"), database_url)
    yield running
    running.dev.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """On a failed end-to-end test, attach the tail of every service log to the report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        running = item.funcargs.get("stack") if hasattr(item, "funcargs") else None
        if isinstance(running, Stack):
            for name in running.dev.services:
                text = running.logs(name, tail=25)
                if text:
                    report.sections.append((f"{name} log", text))
