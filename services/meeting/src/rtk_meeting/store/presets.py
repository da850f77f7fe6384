"""Queries of meeting.presets and meeting.app_seeds."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from realtime.meeting.v1 import preset_pb2

from rtk_meeting.store import from_json, to_json, ts
from rtk_meeting.store.meetings import _escape_like

_COLUMNS = "app_id, id, name, config, permissions, ui, create_time, update_time"


def row_to_preset(row: asyncpg.Record) -> preset_pb2.Preset:
    return preset_pb2.Preset(
        id=str(row["id"]),
        app_id=row["app_id"],
        name=row["name"],
        config=from_json(row["config"], preset_pb2.PresetConfig),
        permissions=from_json(row["permissions"], preset_pb2.PresetPermissions),
        ui=from_json(row["ui"], preset_pb2.PresetUi),
        create_time=ts(row["create_time"]),
        update_time=ts(row["update_time"]),
    )


def _values(p: preset_pb2.Preset) -> tuple[Any, ...]:
    return p.name, to_json(p.config), to_json(p.permissions), to_json(p.ui)


async def insert(conn: asyncpg.Connection, app_id: str, p: preset_pb2.Preset, *, is_default: bool = False,
                 if_absent: bool = False) -> preset_pb2.Preset | None:
    """Insert; raises asyncpg.UniqueViolationError on a taken name unless `if_absent`."""
    conflict = " ON CONFLICT (app_id, name) DO NOTHING" if if_absent else ""
    row = await conn.fetchrow(
        f"""INSERT INTO presets (app_id, id, name, config, permissions, ui, is_default)
            VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7){conflict}
            RETURNING {_COLUMNS}""",
        app_id,
        uuid.uuid4(),
        *_values(p),
        is_default,
    )
    return row_to_preset(row) if row else None


async def get(conn: asyncpg.Connection, app_id: str, preset_id: str, *, for_update: bool = False
              ) -> preset_pb2.Preset | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM presets WHERE app_id = $1 AND id = $2{lock}",
                              app_id, uuid.UUID(preset_id))
    return row_to_preset(row) if row else None


async def get_by_name(conn: asyncpg.Connection, app_id: str, name: str) -> preset_pb2.Preset | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM presets WHERE app_id = $1 AND name = $2", app_id, name)
    return row_to_preset(row) if row else None


async def id_for_name(conn: asyncpg.Connection, app_id: str, name: str) -> str | None:
    value = await conn.fetchval("SELECT id FROM presets WHERE app_id = $1 AND name = $2", app_id, name)
    return str(value) if value else None


async def update(conn: asyncpg.Connection, app_id: str, preset_id: str, p: preset_pb2.Preset
                 ) -> preset_pb2.Preset | None:
    row = await conn.fetchrow(
        f"""UPDATE presets SET name = $3, config = $4::jsonb, permissions = $5::jsonb, ui = $6::jsonb,
                update_time = greatest(now(), update_time + interval '1 microsecond')
            WHERE app_id = $1 AND id = $2
            RETURNING {_COLUMNS}""",
        app_id,
        uuid.UUID(preset_id),
        *_values(p),
    )
    return row_to_preset(row) if row else None


async def delete(conn: asyncpg.Connection, app_id: str, preset_id: str) -> preset_pb2.Preset | None:
    """Raises asyncpg.ForeignKeyViolationError while participants use the preset."""
    row = await conn.fetchrow(f"DELETE FROM presets WHERE app_id = $1 AND id = $2 RETURNING {_COLUMNS}",
                              app_id, uuid.UUID(preset_id))
    return row_to_preset(row) if row else None


async def list_(conn: asyncpg.Connection, app_id: str, *, offset: int, limit: int, search: str = ""
                ) -> tuple[list[preset_pb2.Preset], int]:
    where = "app_id = $1"
    args: list[Any] = [app_id]
    if search:
        args.append(f"%{_escape_like(search.lower())}%")
        where += " AND lower(name) LIKE $2 ESCAPE '\\'"
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, count(*) OVER () AS total FROM presets WHERE {where}
            ORDER BY create_time DESC, name ASC LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}""",
        *args,
        limit,
        offset,
    )
    if rows:
        return [row_to_preset(r) for r in rows], rows[0]["total"]
    if offset == 0:
        return [], 0
    return [], await conn.fetchval(f"SELECT count(*) FROM presets WHERE {where}", *args)


async def claim_seed(conn: asyncpg.Connection, app_id: str) -> bool:
    """True exactly once per app: the caller must then insert the default presets (same transaction)."""
    return bool(await conn.fetchval(
        "INSERT INTO app_seeds (app_id) VALUES ($1) ON CONFLICT (app_id) DO NOTHING RETURNING true", app_id
    ))
