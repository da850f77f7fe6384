"""Queries of meeting.participants (preset_name is joined from meeting.presets)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from realtime.meeting.v1 import participant_pb2

from rtk_meeting.store import ts

_SELECT = """SELECT p.app_id, p.id, p.meeting_id, p.custom_participant_id, p.preset_id, s.name AS preset_name,
                    p.name, p.picture, p.create_time, p.update_time
             FROM participants p JOIN presets s ON s.app_id = p.app_id AND s.id = p.preset_id"""


def row_to_participant(row: asyncpg.Record) -> participant_pb2.Participant:
    p = participant_pb2.Participant(
        id=str(row["id"]),
        app_id=row["app_id"],
        meeting_id=str(row["meeting_id"]),
        custom_participant_id=row["custom_participant_id"],
        preset_id=str(row["preset_id"]),
        preset_name=row["preset_name"],
        create_time=ts(row["create_time"]),
        update_time=ts(row["update_time"]),
    )
    if row["name"] is not None:
        p.name = row["name"]
    if row["picture"] is not None:
        p.picture = row["picture"]
    return p


def _opt(p: participant_pb2.Participant, name: str) -> Any:
    return getattr(p, name) if p.HasField(name) else None


async def insert_many_resolving(conn: asyncpg.Connection, app_id: str, meeting_id: str,
                                participants: list[participant_pb2.Participant]
                                ) -> list[participant_pb2.Participant | None]:
    """Insert several participants of one meeting in one statement, resolving presets by name.

    Returns one entry per input, in order: the created participant, or None when its preset does
    not exist. Every entry is None when the meeting does not exist (the caller finds out which).
    """
    ids = [uuid.uuid4() for _ in participants]
    rows = await conn.fetch(
        # One statement shares one now(); each row gets a microsecond more, so that listing
        # (oldest first, by create_time) keeps the request's order.
        """INSERT INTO participants (app_id, id, meeting_id, custom_participant_id, preset_id, name, picture,
                                    create_time, update_time)
           SELECT $1, i.id, m.id, i.custom_participant_id, s.id, i.name, i.picture,
                  now() + i.n * interval '1 microsecond', now() + i.n * interval '1 microsecond'
             FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[])
                  WITH ORDINALITY AS i(id, custom_participant_id, preset_name, name, picture, n)
             JOIN meetings m ON m.app_id = $1 AND m.id = $2
             JOIN presets s ON s.app_id = $1 AND s.name = i.preset_name
           RETURNING id, preset_id, create_time, update_time""",
        app_id, uuid.UUID(meeting_id), ids,
        [p.custom_participant_id for p in participants], [p.preset_name for p in participants],
        [_opt(p, "name") for p in participants], [_opt(p, "picture") for p in participants],
    )
    created = {row["id"]: row for row in rows}
    results: list[participant_pb2.Participant | None] = []
    for pid, p in zip(ids, participants, strict=True):
        row = created.get(pid)
        if row is None:
            results.append(None)
            continue
        out = participant_pb2.Participant(
            id=str(pid), app_id=app_id, meeting_id=meeting_id, custom_participant_id=p.custom_participant_id,
            preset_id=str(row["preset_id"]), preset_name=p.preset_name,
            create_time=ts(row["create_time"]), update_time=ts(row["update_time"]),
        )
        if p.HasField("name"):
            out.name = p.name
        if p.HasField("picture"):
            out.picture = p.picture
        results.append(out)
    return results


async def get(conn: asyncpg.Connection, app_id: str, meeting_id: str, participant_id: str, *,
              for_update: bool = False) -> participant_pb2.Participant | None:
    lock = " FOR UPDATE OF p" if for_update else ""
    row = await conn.fetchrow(
        f"{_SELECT} WHERE p.app_id = $1 AND p.meeting_id = $2 AND p.id = $3{lock}",
        app_id, uuid.UUID(meeting_id), uuid.UUID(participant_id),
    )
    return row_to_participant(row) if row else None


async def update(conn: asyncpg.Connection, app_id: str, meeting_id: str, participant_id: str, preset_id: str,
                 p: participant_pb2.Participant) -> participant_pb2.Participant | None:
    status = await conn.execute(
        """UPDATE participants SET custom_participant_id = $4, preset_id = $5, name = $6, picture = $7,
               update_time = greatest(now(), update_time + interval '1 microsecond')
           WHERE app_id = $1 AND meeting_id = $2 AND id = $3""",
        app_id, uuid.UUID(meeting_id), uuid.UUID(participant_id), p.custom_participant_id, uuid.UUID(preset_id),
        _opt(p, "name"), _opt(p, "picture"),
    )
    if status.endswith(" 0"):
        return None
    return await get(conn, app_id, meeting_id, participant_id)


async def delete(conn: asyncpg.Connection, app_id: str, meeting_id: str, participant_id: str
                 ) -> participant_pb2.Participant | None:
    before = await get(conn, app_id, meeting_id, participant_id, for_update=True)
    if before is None:
        return None
    await conn.execute("DELETE FROM participants WHERE app_id = $1 AND meeting_id = $2 AND id = $3",
                       app_id, uuid.UUID(meeting_id), uuid.UUID(participant_id))
    return before


async def list_(conn: asyncpg.Connection, app_id: str, meeting_id: str, *, offset: int, limit: int
                ) -> tuple[list[participant_pb2.Participant], int]:
    rows = await conn.fetch(
        f"""{_SELECT.replace('SELECT', 'SELECT count(*) OVER () AS total,', 1)}
            WHERE p.app_id = $1 AND p.meeting_id = $2
            ORDER BY p.create_time, p.id LIMIT $3 OFFSET $4""",
        app_id, uuid.UUID(meeting_id), limit, offset,
    )
    if rows:
        return [row_to_participant(r) for r in rows], rows[0]["total"]
    if offset == 0:
        return [], 0
    return [], await conn.fetchval("SELECT count(*) FROM participants WHERE app_id = $1 AND meeting_id = $2",
                                   app_id, uuid.UUID(meeting_id))
