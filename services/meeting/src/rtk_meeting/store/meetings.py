"""Queries of meeting.meetings."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from realtime.meeting.v1 import meeting_pb2

from rtk_meeting.store import from_json, to_json, ts

_STATUS = {meeting_pb2.MEETING_STATUS_ACTIVE: "ACTIVE", meeting_pb2.MEETING_STATUS_INACTIVE: "INACTIVE"}
_STATUS_BACK = {v: k for k, v in _STATUS.items()}
_COLUMNS = (
    "app_id, id, title, status, record_on_start, live_stream_on_start, persist_chat, summarize_on_end, "
    "transcribe_on_end, session_keep_alive_time_in_secs, recording_config, ai_config, create_time, update_time"
)


def row_to_meeting(row: asyncpg.Record) -> meeting_pb2.Meeting:
    m = meeting_pb2.Meeting(
        id=str(row["id"]),
        app_id=row["app_id"],
        status=_STATUS_BACK[row["status"]],
        record_on_start=row["record_on_start"],
        live_stream_on_start=row["live_stream_on_start"],
        persist_chat=row["persist_chat"],
        summarize_on_end=row["summarize_on_end"],
        transcribe_on_end=row["transcribe_on_end"],
        session_keep_alive_time_in_secs=row["session_keep_alive_time_in_secs"],
        create_time=ts(row["create_time"]),
        update_time=ts(row["update_time"]),
    )
    if row["title"] is not None:
        m.title = row["title"]
    if row["recording_config"] is not None:
        m.recording_config.CopyFrom(from_json(row["recording_config"], meeting_pb2.RecordingConfig))
    if row["ai_config"] is not None:
        m.ai_config.CopyFrom(from_json(row["ai_config"], meeting_pb2.AiConfig))
    return m


def _values(m: meeting_pb2.Meeting) -> tuple[Any, ...]:
    return (
        m.title if m.HasField("title") else None,
        _STATUS[m.status],
        m.record_on_start,
        m.live_stream_on_start,
        m.persist_chat,
        m.summarize_on_end,
        m.transcribe_on_end,
        m.session_keep_alive_time_in_secs,
        to_json(m.recording_config) if m.HasField("recording_config") else None,
        to_json(m.ai_config) if m.HasField("ai_config") else None,
    )


async def insert(conn: asyncpg.Connection, app_id: str, m: meeting_pb2.Meeting) -> meeting_pb2.Meeting:
    row = await conn.fetchrow(
        f"""INSERT INTO meetings (app_id, id, title, status, record_on_start, live_stream_on_start, persist_chat,
                summarize_on_end, transcribe_on_end, session_keep_alive_time_in_secs, recording_config, ai_config)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb)
            RETURNING {_COLUMNS}""",
        app_id,
        uuid.uuid4(),
        *_values(m),
    )
    return row_to_meeting(row)


async def get(conn: asyncpg.Connection, app_id: str, meeting_id: str, *, for_update: bool = False
              ) -> meeting_pb2.Meeting | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM meetings WHERE app_id = $1 AND id = $2{lock}",
                              app_id, uuid.UUID(meeting_id))
    return row_to_meeting(row) if row else None


async def exists(conn: asyncpg.Connection, app_id: str, meeting_id: str) -> bool:
    return bool(await conn.fetchval("SELECT true FROM meetings WHERE app_id = $1 AND id = $2",
                                    app_id, uuid.UUID(meeting_id)))


async def update(conn: asyncpg.Connection, app_id: str, meeting_id: str, m: meeting_pb2.Meeting
                 ) -> meeting_pb2.Meeting | None:
    row = await conn.fetchrow(
        f"""UPDATE meetings SET title = $3, status = $4, record_on_start = $5, live_stream_on_start = $6,
                persist_chat = $7, summarize_on_end = $8, transcribe_on_end = $9,
                session_keep_alive_time_in_secs = $10, recording_config = $11::jsonb, ai_config = $12::jsonb,
                update_time = greatest(now(), update_time + interval '1 microsecond')
            WHERE app_id = $1 AND id = $2
            RETURNING {_COLUMNS}""",
        app_id,
        uuid.UUID(meeting_id),
        *_values(m),
    )
    return row_to_meeting(row) if row else None


async def list_(
    conn: asyncpg.Connection,
    app_id: str,
    *,
    offset: int,
    limit: int,
    search: str = "",
    status: int = 0,
    start_time: dt.datetime | None = None,
    end_time: dt.datetime | None = None,
) -> tuple[list[meeting_pb2.Meeting], int]:
    where = ["app_id = $1"]
    args: list[Any] = [app_id]
    if search:
        args.append(f"%{_escape_like(search.lower())}%")
        clause = f"lower(title) LIKE ${len(args)} ESCAPE '\\'"
        try:
            args.append(uuid.UUID(search.strip()))
            clause = f"({clause} OR id = ${len(args)})"
        except ValueError:
            pass
        where.append(clause)
    if status:
        args.append(_STATUS[status])
        where.append(f"status = ${len(args)}")
    if start_time is not None:
        args.append(start_time)
        where.append(f"create_time >= ${len(args)}")
    if end_time is not None:
        args.append(end_time)
        where.append(f"create_time <= ${len(args)}")
    args += [limit, offset]
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, count(*) OVER () AS total FROM meetings WHERE {' AND '.join(where)}
            ORDER BY create_time DESC, id DESC LIMIT ${len(args) - 1} OFFSET ${len(args)}""",
        *args,
    )
    if rows:
        return [row_to_meeting(r) for r in rows], rows[0]["total"]
    if offset == 0:
        return [], 0
    total = await conn.fetchval(f"SELECT count(*) FROM meetings WHERE {' AND '.join(where)}", *args[:-2])
    return [], total


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
