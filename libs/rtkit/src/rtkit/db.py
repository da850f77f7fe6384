"""Postgres access: an asyncpg pool per service schema, versioned SQL migrations.

Each service owns one schema (`meeting`, `auth`, …) and keeps its migrations as
`services/<svc>/migrations/NNNN_<what>.sql`. `migrate()` applies the missing ones in order,
each in its own transaction, under an advisory lock so that replicas (or a Kubernetes Job and a
pod) never race.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from rtkit.logging import get_logger

log = get_logger("rtkit.db")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _check_schema(schema: str) -> str:
    if not _IDENT.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    return schema


async def create_pool(
    dsn: str,
    *,
    schema: str,
    min_size: int = 2,
    max_size: int = 20,
    connect_timeout: float = 2.0,
    command_timeout: float = 5.0,
    wait_seconds: float = 30.0,
) -> asyncpg.Pool:
    """A pool whose connections use `schema` first on the search path.

    Waits up to `wait_seconds` for Postgres at start (it may still be booting); afterwards,
    failures surface per request as DATABASE_UNAVAILABLE and the pool reconnects by itself.

    Connections carry no session state (services use SET LOCAL, transaction-scoped advisory
    locks and no LISTEN), so a released connection skips asyncpg's reset query: one round trip
    less per request.
    """
    _check_schema(schema)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                max_inactive_connection_lifetime=60.0,
                reset=_no_session_state,
                server_settings={"search_path": f"{schema},public", "application_name": f"rtk-{schema}"},
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise
            log.warning("db_waiting", error=str(exc))
            await asyncio.sleep(0.5)


async def _no_session_state(_conn: asyncpg.Connection) -> None:
    return None


class Database:
    """Thin helper over a pool; errors are mapped to ApiError by the gRPC interceptor."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return await conn.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        async with self.pool.acquire() as conn:
            return await conn.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        async with self.pool.acquire() as conn:
            return await conn.execute(query, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def close(self) -> None:
        await asyncio.wait_for(self.pool.close(), timeout=10)


def discover(migrations_dir: Path) -> list[tuple[str, str]]:
    files = []
    for path in sorted(Path(migrations_dir).glob("*.sql")):
        if not _MIGRATION_NAME.match(path.name):
            raise ValueError(f"migration file {path.name} does not match NNNN_name.sql")
        files.append((path.stem, path.read_text()))
    return files


async def migrate(dsn: str, schema: str, migrations_dir: Path, *, wait_seconds: float = 30.0) -> list[str]:
    """Apply pending migrations; returns the versions applied now."""
    _check_schema(schema)
    migrations = discover(migrations_dir)
    lock_key = int.from_bytes(hashlib.sha256(f"rtk-migrate-{schema}".encode()).digest()[:8], "big", signed=True)
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=5)
            break
        except (TimeoutError, OSError, asyncpg.PostgresError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {schema}.schema_migrations ("
                " version text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {
                r["version"]: r["checksum"] for r in await conn.fetch(f"SELECT version, checksum FROM {schema}.schema_migrations")
            }
            for version, sql in migrations:
                checksum = hashlib.sha256(sql.encode()).hexdigest()
                if version in done:
                    if done[version] != checksum:
                        raise RuntimeError(f"migration {schema}/{version} changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}, public")
                    await conn.execute(sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                    )
                applied.append(version)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await conn.close()
    return applied
