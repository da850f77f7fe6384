"""asyncpg queries of the `recording` schema. Every query on recordings filters by app_id
except the recorder-side ones, which address a recording by its (unguessable) id."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

_COLUMNS = (
    "id, app_id, meeting_id, session_id, meeting_title, type, status, recorder_id, options, layers,"
    " storage_config, session, start_reason, stop_reason, output_file_name, files, file_size,"
    " duration_seconds, error_message, participant_id, peer_id, invoked_at, started_at, stopped_at,"
    " uploaded_at, expires_at, updated_at"
)

ACTIVE = (1, 2, 3)  # INVOKED, RECORDING, PAUSED
RUNNING = (1, 2, 3, 4)  # … and UPLOADING: the recorder still owns it


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


async def lock_meeting(conn: asyncpg.Connection, app_id: str, meeting_id: str) -> None:
    """Serialises starts of one meeting (RECORDING_ALREADY_RUNNING must not race)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", f"rec:{app_id}:{meeting_id}")


async def active_for_meeting(conn: asyncpg.Connection, app_id: str, meeting_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM recordings WHERE app_id = $1 AND meeting_id = $2 AND status = ANY($3::smallint[])"
        " ORDER BY invoked_at DESC",
        app_id, meeting_id, list(ACTIVE),
    )


async def pick_recorder(conn: asyncpg.Connection, lease_seconds: float) -> uuid.UUID | None:
    """A live recorder with a free slot, least loaded first; its row stays locked until commit so
    that concurrent starts cannot over-commit it."""
    rows = await conn.fetch(
        """
        SELECT r.id, r.capacity,
               (SELECT count(*) FROM recordings x WHERE x.recorder_id = r.id
                  AND x.status = ANY('{1,2,3,4}'::smallint[])) AS used
          FROM recorders r
         WHERE r.heartbeat_at > now() - make_interval(secs => $1) AND r.capacity > 0
         ORDER BY r.id
           FOR UPDATE OF r
        """,
        lease_seconds,
    )
    free = [(row["used"], row["id"]) for row in rows if row["used"] < row["capacity"]]
    return min(free)[1] if free else None


async def insert(conn: asyncpg.Connection, values: dict[str, Any]) -> asyncpg.Record | None:
    """Insert a recording; None when the id exists (idempotent record_on_start)."""
    names = list(values)
    placeholders = ", ".join(f"${i + 1}" for i in range(len(names)))
    return await conn.fetchrow(
        f"INSERT INTO recordings ({', '.join(names)}) VALUES ({placeholders})"
        f" ON CONFLICT (id) DO NOTHING RETURNING {_COLUMNS}",
        *values.values(),
    )


async def get(conn: asyncpg.Connection, recording_id: str, app_id: str | None = None) -> asyncpg.Record | None:
    rid = _uuid(recording_id)
    if rid is None:
        return None
    if app_id is None:
        return await conn.fetchrow(f"SELECT {_COLUMNS} FROM recordings WHERE id = $1", rid)
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM recordings WHERE id = $1 AND app_id = $2", rid, app_id)


async def lock(conn: asyncpg.Connection, recording_id: str) -> asyncpg.Record | None:
    rid = _uuid(recording_id)
    if rid is None:
        return None
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM recordings WHERE id = $1 FOR UPDATE", rid)


async def update(conn: asyncpg.Connection, recording_id: uuid.UUID | str, changes: dict[str, Any]) -> asyncpg.Record:
    names = list(changes)
    sets = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    return await conn.fetchrow(
        f"UPDATE recordings SET {sets}, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        recording_id if isinstance(recording_id, uuid.UUID) else uuid.UUID(recording_id), *changes.values(),
    )


async def running_of_session(conn: asyncpg.Connection, app_id: str, session_id: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {_COLUMNS} FROM recordings WHERE app_id = $1 AND session_id = $2"
        " AND status = ANY($3::smallint[])",
        app_id, session_id, list(ACTIVE),
    )


async def list_page(
    conn: asyncpg.Connection,
    app_id: str,
    *,
    limit: int,
    skip: int,
    meeting_id: str = "",
    statuses: Sequence[int] = (),
    search: str = "",
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    ascending: bool = False,
    expired: bool | None = None,
    type_: int = 0,
) -> tuple[list[asyncpg.Record], int]:
    where = ["app_id = $1"]
    args: list[Any] = [app_id]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if meeting_id:
        where.append(f"meeting_id = {arg(meeting_id)}")
    if statuses:
        where.append(f"status = ANY({arg(list(statuses))}::smallint[])")
    if type_:
        where.append(f"type = {arg(type_)}")
    if search:
        rid = _uuid(search)
        like = arg("%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
        clause = f"(meeting_id = {arg(search)} OR session_id = {arg(search)} OR meeting_title ILIKE {like}"
        if rid is not None:
            clause += f" OR id = {arg(rid)}"
        where.append(clause + ")")
    if start is not None:
        where.append(f"invoked_at >= {arg(start)}")
    if end is not None:
        where.append(f"invoked_at <= {arg(end)}")
    if expired is True:
        where.append("expires_at IS NOT NULL AND expires_at <= now()")
    elif expired is False:
        where.append("(expires_at IS NULL OR expires_at > now())")
    condition = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM recordings WHERE {condition}", *args)
    order = "ASC" if ascending else "DESC"
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM recordings WHERE {condition} ORDER BY invoked_at {order}, id {order}"
        f" LIMIT {arg(limit)} OFFSET {arg(skip)}",
        *args,
    )
    return rows, total


# -- recorders -------------------------------------------------------------------------------
async def register_recorder(conn: asyncpg.Connection, recorder_id: uuid.UUID, host: str, capacity: int) -> None:
    await conn.execute(
        "INSERT INTO recorders (id, host, capacity) VALUES ($1, $2, $3)"
        " ON CONFLICT (id) DO UPDATE SET capacity = EXCLUDED.capacity, heartbeat_at = now()",
        recorder_id, host, capacity,
    )


async def heartbeat(conn: asyncpg.Connection, recorder_id: uuid.UUID, host: str, capacity: int, active: int) -> None:
    await conn.execute(
        "INSERT INTO recorders (id, host, capacity, active) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (id) DO UPDATE SET active = EXCLUDED.active, capacity = EXCLUDED.capacity,"
        " heartbeat_at = now()",
        recorder_id, host, capacity, active,
    )


async def unregister_recorder(conn: asyncpg.Connection, recorder_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM recorders WHERE id = $1", recorder_id)


async def orphaned(conn: asyncpg.Connection, lease_seconds: float) -> list[asyncpg.Record]:
    """Running recordings whose recorder is gone or silent for longer than the lease (locked)."""
    return await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM recordings x
         WHERE x.status = ANY('{{1,2,3,4}}'::smallint[])
           AND NOT EXISTS (SELECT 1 FROM recorders r WHERE r.id = x.recorder_id
                             AND r.heartbeat_at > now() - make_interval(secs => $1))
           AND x.updated_at < now() - make_interval(secs => $1)
         ORDER BY x.invoked_at
           FOR UPDATE OF x SKIP LOCKED
        """,
        lease_seconds,
    )


async def forget_dead_recorders(conn: asyncpg.Connection, lease_seconds: float) -> int:
    result = await conn.execute(
        "DELETE FROM recorders WHERE heartbeat_at < now() - make_interval(secs => $1 * 6)", lease_seconds
    )
    return int(result.split()[-1])


async def recorders(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, host, capacity, active, heartbeat_at FROM recorders ORDER BY started_at")


def files_json(files: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(files))


def files_of(row: asyncpg.Record) -> list[dict[str, Any]]:
    value = row["files"]
    if isinstance(value, str):
        return json.loads(value)
    return list(value or [])
