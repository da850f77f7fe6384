"""Shared fixtures: real Postgres and NATS (embedded unless RTK_DATABASE_URL / RTK_NATS_URL are set)
and the real stack, started as separate processes exactly as `make run` does."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from rtk_cli.embedded import EmbeddedNats, EmbeddedPostgres
from stack_support import Infra, Stack, start_stack


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
