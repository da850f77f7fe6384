"""asyncpg queries for the `auth` schema. No logic here: the domain decides, the store persists.

`AuthStore` wraps either the pool (each call is its own statement) or one connection inside a
transaction (`async with store.transaction() as tx:`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from rtk_auth.domain.keys import StoredPrivateKey
from rtk_auth.domain.models import Account, ApiToken, App, IssuedToken, KeyState, StoredKey

UniqueViolation = asyncpg.UniqueViolationError
ForeignKeyViolation = asyncpg.ForeignKeyViolationError


def advisory_key(name: str) -> int:
    """A stable 64-bit advisory-lock key for `name`."""
    return int.from_bytes(hashlib.sha256(f"rtk-auth-{name}".encode()).digest()[:8], "big", signed=True)


def _account(r: asyncpg.Record) -> Account:
    return Account(id=str(r["id"]), name=r["name"], create_time=r["create_time"])


def _app(r: asyncpg.Record) -> App:
    return App(id=str(r["id"]), account_id=str(r["account_id"]), name=r["name"], create_time=r["create_time"])


def _api_token(r: asyncpg.Record) -> ApiToken:
    return ApiToken(
        id=str(r["id"]), account_id=str(r["account_id"]), name=r["name"], create_time=r["create_time"],
        revoke_time=r["revoke_time"],
    )


def _key(r: asyncpg.Record) -> StoredKey:
    return StoredKey(
        kid=r["kid"],
        state=KeyState(r["state"]),
        public_key_pem=r["public_key_pem"],
        private_key=StoredPrivateKey(bytes(r["private_key"]), r["private_key_encrypted"]),
        create_time=r["create_time"],
        retire_time=r["retire_time"],
        algorithm=r.get("algorithm") or "RS256",
    )


def _issued(r: asyncpg.Record) -> IssuedToken:
    return IssuedToken(
        jti=str(r["jti"]), app_id=str(r["app_id"]), meeting_id=str(r["meeting_id"]),
        participant_id=str(r["participant_id"]), preset_id=r["preset_id"], kid=r["kid"],
        issue_time=r["issue_time"], expire_time=r["expire_time"], revoke_time=r["revoke_time"],
    )


_KEY_TABLES = {"signing": "auth.signing_keys", "webhook": "auth.webhook_keys"}


class AuthStore:
    def __init__(self, db: asyncpg.Pool | asyncpg.Connection) -> None:
        self._db: Any = db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AuthStore]:
        if isinstance(self._db, asyncpg.Connection):
            async with self._db.transaction():
                yield self
            return
        async with self._db.acquire() as conn, conn.transaction():
            yield AuthStore(conn)

    async def lock(self, name: str) -> None:
        """Transaction-scoped advisory lock (serialises first-start races between replicas)."""
        await self._db.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(name))

    # --- accounts -------------------------------------------------------------------------

    async def insert_account(self, account_id: str, name: str) -> Account:
        r = await self._db.fetchrow(
            "INSERT INTO auth.accounts (id, name) VALUES ($1, $2) RETURNING id, name, create_time", account_id, name
        )
        return _account(r)

    async def get_account(self, account_id: str) -> Account | None:
        r = await self._db.fetchrow("SELECT id, name, create_time FROM auth.accounts WHERE id = $1", account_id)
        return _account(r) if r else None

    async def oldest_account(self) -> Account | None:
        r = await self._db.fetchrow("SELECT id, name, create_time FROM auth.accounts ORDER BY create_time, id LIMIT 1")
        return _account(r) if r else None

    # --- apps -----------------------------------------------------------------------------

    async def insert_app(self, app_id: str, account_id: str, name: str) -> App:
        r = await self._db.fetchrow(
            "INSERT INTO auth.apps (id, account_id, name) VALUES ($1, $2, $3)"
            " RETURNING id, account_id, name, create_time",
            app_id, account_id, name,
        )
        return _app(r)

    async def get_app(self, app_id: str) -> App | None:
        r = await self._db.fetchrow("SELECT id, account_id, name, create_time FROM auth.apps WHERE id = $1", app_id)
        return _app(r) if r else None

    async def account_of_app(self, app_id: str) -> str | None:
        value = await self._db.fetchval("SELECT account_id FROM auth.apps WHERE id = $1", app_id)
        return str(value) if value is not None else None

    async def oldest_app(self, account_id: str) -> App | None:
        r = await self._db.fetchrow(
            "SELECT id, account_id, name, create_time FROM auth.apps WHERE account_id = $1"
            " ORDER BY create_time, id LIMIT 1",
            account_id,
        )
        return _app(r) if r else None

    async def list_apps(
        self, account_id: str | None, search: str, descending: bool, offset: int, limit: int
    ) -> tuple[list[App], int]:
        where = "($1::uuid IS NULL OR account_id = $1) AND ($2 = '' OR strpos(lower(name), lower($2)) > 0)"
        direction = "DESC" if descending else "ASC"
        rows = await self._db.fetch(
            f"SELECT id, account_id, name, create_time FROM auth.apps WHERE {where}"
            f" ORDER BY create_time {direction}, id {direction} LIMIT $3 OFFSET $4",
            account_id, search, limit, offset,
        )
        total = await self._db.fetchval(f"SELECT count(*) FROM auth.apps WHERE {where}", account_id, search)
        return [_app(r) for r in rows], int(total)

    # --- API tokens -----------------------------------------------------------------------

    async def insert_api_token(self, token_id: str, account_id: str, name: str, secret_sha256: bytes) -> ApiToken:
        r = await self._db.fetchrow(
            "INSERT INTO auth.api_tokens (id, account_id, name, secret_sha256) VALUES ($1, $2, $3, $4)"
            " RETURNING id, account_id, name, create_time, revoke_time",
            token_id, account_id, name, secret_sha256,
        )
        return _api_token(r)

    async def find_api_token(self, secret_sha256: bytes) -> tuple[ApiToken, bytes] | None:
        r = await self._db.fetchrow(
            "SELECT id, account_id, name, create_time, revoke_time, secret_sha256 FROM auth.api_tokens"
            " WHERE secret_sha256 = $1",
            secret_sha256,
        )
        return (_api_token(r), bytes(r["secret_sha256"])) if r else None

    async def revoke_api_token(self, token_id: str) -> ApiToken | None:
        r = await self._db.fetchrow(
            "UPDATE auth.api_tokens SET revoke_time = coalesce(revoke_time, now()) WHERE id = $1"
            " RETURNING id, account_id, name, create_time, revoke_time",
            token_id,
        )
        return _api_token(r) if r else None

    # --- signing and webhook keys ---------------------------------------------------------

    async def list_keys(self, kind: str) -> list[StoredKey]:
        rows = await self._db.fetch(f"SELECT * FROM {_KEY_TABLES[kind]} ORDER BY create_time DESC, kid")
        return [_key(r) for r in rows]

    async def get_key(self, kind: str, kid: str) -> StoredKey | None:
        r = await self._db.fetchrow(f"SELECT * FROM {_KEY_TABLES[kind]} WHERE kid = $1", kid)
        return _key(r) if r else None

    async def insert_key(self, kind: str, kid: str, public_key_pem: str, private_key: StoredPrivateKey) -> StoredKey:
        r = await self._db.fetchrow(
            f"INSERT INTO {_KEY_TABLES[kind]} (kid, state, public_key_pem, private_key, private_key_encrypted)"
            " VALUES ($1, 'ACTIVE', $2, $3, $4) RETURNING *",
            kid, public_key_pem, private_key.data, private_key.encrypted,
        )
        return _key(r)

    async def demote_active_signing_key(self) -> None:
        await self._db.execute("UPDATE auth.signing_keys SET state = 'VERIFY_ONLY' WHERE state = 'ACTIVE'")

    async def retire_key(self, kind: str, kid: str) -> StoredKey | None:
        r = await self._db.fetchrow(
            f"UPDATE {_KEY_TABLES[kind]} SET state = 'RETIRED', retire_time = coalesce(retire_time, now())"
            " WHERE kid = $1 RETURNING *",
            kid,
        )
        return _key(r) if r else None

    async def replace_private_key(self, kind: str, kid: str, private_key: StoredPrivateKey) -> None:
        await self._db.execute(
            f"UPDATE {_KEY_TABLES[kind]} SET private_key = $2, private_key_encrypted = $3 WHERE kid = $1",
            kid, private_key.data, private_key.encrypted,
        )

    # --- participant tokens (hot path) ----------------------------------------------------

    async def insert_participant_tokens(self, tokens: list[IssuedToken]) -> None:
        """One multi-row INSERT for a batch (see BatchedTokenWriter)."""
        await self._db.execute(
            "INSERT INTO auth.participant_tokens"
            " (jti, app_id, meeting_id, participant_id, preset_id, kid, issue_time, expire_time)"
            " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[],"
            " $7::timestamptz[], $8::timestamptz[])",
            [t.jti for t in tokens], [t.app_id for t in tokens], [t.meeting_id for t in tokens],
            [t.participant_id for t in tokens], [t.preset_id for t in tokens], [t.kid for t in tokens],
            [t.issue_time for t in tokens], [t.expire_time for t in tokens],
        )

    async def get_participant_token(self, jti: str) -> IssuedToken | None:
        r = await self._db.fetchrow("SELECT * FROM auth.participant_tokens WHERE jti = $1", jti)
        return _issued(r) if r else None

    async def revoke_participant_tokens(self, app_id: str, participant_id: str, except_jti: str | None) -> int:
        status = await self._db.execute(
            "UPDATE auth.participant_tokens SET revoke_time = now()"
            " WHERE app_id = $1 AND participant_id = $2 AND revoke_time IS NULL AND expire_time > now()"
            " AND ($3::uuid IS NULL OR jti <> $3)",
            app_id, participant_id, except_jti,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def purge_participant_tokens(self, expired_before: dt.datetime, batch: int = 10_000) -> int:
        status = await self._db.execute(
            "DELETE FROM auth.participant_tokens WHERE jti IN"
            " (SELECT jti FROM auth.participant_tokens WHERE expire_time < $1 LIMIT $2)",
            expired_before, batch,
        )
        return int(status.rsplit(" ", 1)[-1])
