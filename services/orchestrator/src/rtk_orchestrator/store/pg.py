"""asyncpg queries of the orchestrator (schema `orchestrator`). Functions take a connection so
that the domain can run several of them in one transaction; every query filters by its keys."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import asyncpg

from rtk_orchestrator.domain.models import PeerRec, SessionRec

SESSION_SELECT = """
SELECT s.*,
  (SELECT count(*) FROM peers p WHERE p.session_id = s.id AND p.state IN ('JOINED', 'DISCONNECTED'))::int
      AS live_participants,
  (SELECT count(DISTINCT p.participant_id) FROM peers p WHERE p.session_id = s.id AND p.joined_at IS NOT NULL)::int
      AS participants_count,
  s.minutes_closed + COALESCE((SELECT sum(extract(epoch FROM (now() - p.joined_at))) / 60.0 FROM peers p
      WHERE p.session_id = s.id AND p.joined_at IS NOT NULL AND p.left_at IS NULL), 0)::float8
      AS minutes_consumed
FROM sessions s
"""

_PEER_COLUMNS = (
    "id", "session_id", "app_id", "meeting_id", "participant_id", "custom_participant_id", "display_name",
    "picture", "preset_id", "preset_name", "permissions", "view_type", "hidden", "recorder", "state",
    "leave_state", "waiting_room_type", "stage_status", "stage_changed_at", "audio_enabled", "video_enabled",
    "screen_share_enabled", "audio_locked", "video_locked", "screenshare_locked", "is_pinned",
    "resume_token_hash", "token_id", "socket_session_id", "client", "waitlisted_at", "joined_at", "left_at",
    "disconnected_at", "last_seen_at",
)
_PEER_UPDATABLE = frozenset(_PEER_COLUMNS) - {"id", "session_id", "app_id", "meeting_id", "participant_id"}
_SESSION_UPDATABLE = frozenset(
    {"status", "ended_at", "end_reason", "empty_since", "max_concurrent_participants", "minutes_closed",
     "meeting_title", "keep_alive_seconds"}
)


def advisory_key(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


async def now(conn: asyncpg.Connection) -> dt.datetime:
    return await conn.fetchval("SELECT now()")


# -- sessions -----------------------------------------------------------------------------------

async def lock_meeting(conn: asyncpg.Connection, app_id: str, meeting_id: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", advisory_key(f"orchestrator-meeting:{app_id}:{meeting_id}"))


async def live_session_id(conn: asyncpg.Connection, app_id: str, meeting_id: str) -> str | None:
    value = await conn.fetchval(
        "SELECT id FROM sessions WHERE app_id = $1 AND meeting_id = $2 AND status = 'LIVE'", app_id, meeting_id
    )
    return str(value) if value else None


async def insert_session(conn: asyncpg.Connection, *, session_id: str, app_id: str, meeting_id: str, title: str,
                         keep_alive_seconds: int) -> None:
    await conn.execute(
        "INSERT INTO sessions (id, app_id, meeting_id, meeting_title, status, keep_alive_seconds, started_at,"
        " created_at, updated_at) VALUES ($1, $2, $3, $4, 'LIVE', $5, now(), now(), now())",
        session_id, app_id, meeting_id, title, keep_alive_seconds,
    )


async def lock_session(conn: asyncpg.Connection, session_id: str) -> SessionRec | None:
    row = await conn.fetchrow("SELECT * FROM sessions WHERE id = $1 FOR UPDATE", session_id)
    return SessionRec.from_row(row) if row else None


async def get_session(conn: asyncpg.Connection, app_id: str, session_id: str) -> SessionRec | None:
    row = await conn.fetchrow(SESSION_SELECT + " WHERE s.id = $1 AND s.app_id = $2", session_id, app_id)
    return SessionRec.from_row(row) if row else None


async def get_session_by_id(conn: asyncpg.Connection, session_id: str) -> SessionRec | None:
    row = await conn.fetchrow(SESSION_SELECT + " WHERE s.id = $1", session_id)
    return SessionRec.from_row(row) if row else None


async def update_session(conn: asyncpg.Connection, session_id: str, changes: dict[str, Any]) -> None:
    bad = set(changes) - _SESSION_UPDATABLE
    if bad:
        raise ValueError(f"not updatable: {sorted(bad)}")
    if not changes:
        return
    names = list(changes)
    sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
    await conn.execute(f"UPDATE sessions SET {sets}, updated_at = now() WHERE id = $1", session_id,
                       *[changes[n] for n in names])


async def next_chat_seq(conn: asyncpg.Connection, session_id: str) -> int:
    return await conn.fetchval("UPDATE sessions SET chat_seq = chat_seq + 1 WHERE id = $1 RETURNING chat_seq",
                               session_id)


async def list_sessions(conn: asyncpg.Connection, *, app_id: str, status: str | None, meeting_id: str | None,
                        search: str | None, start: dt.datetime | None, end: dt.datetime | None,
                        min_participants: int, max_participants: int, order_by: str, descending: bool,
                        limit: int, offset: int) -> tuple[list[SessionRec], int]:
    where = ["s.app_id = $1"]
    args: list[Any] = [app_id]

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if status:
        where.append(f"s.status = {arg(status)}")
    if meeting_id:
        where.append(f"s.meeting_id = {arg(meeting_id)}")
    if search:
        p = arg(f"%{search.lower()}%")
        q = arg(search)
        where.append(f"(lower(s.meeting_title) LIKE {p} OR s.id::text = {q} OR s.meeting_id = {q})")
    if start:
        where.append(f"s.started_at >= {arg(start)}")
    if end:
        where.append(f"s.started_at <= {arg(end)}")
    inner = SESSION_SELECT + " WHERE " + " AND ".join(where)
    outer: list[str] = []
    if min_participants:
        outer.append(f"participants_count >= {arg(min_participants)}")
    if max_participants:
        outer.append(f"participants_count <= {arg(max_participants)}")
    outer_where = (" WHERE " + " AND ".join(outer)) if outer else ""
    column = {"minutes": "minutes_consumed", "created": "created_at"}[order_by]
    direction = "DESC" if descending else "ASC"
    total = await conn.fetchval(f"SELECT count(*) FROM ({inner}) x{outer_where}", *args)
    rows = await conn.fetch(
        f"SELECT * FROM ({inner}) x{outer_where} ORDER BY {column} {direction}, id {direction}"
        f" LIMIT {arg(limit)} OFFSET {arg(offset)}",
        *args,
    )
    return [SessionRec.from_row(r) for r in rows], int(total)


async def sessions_to_end(conn: asyncpg.Connection, limit: int = 20) -> list[str]:
    rows = await conn.fetch(
        "SELECT id FROM sessions WHERE status = 'LIVE' AND empty_since IS NOT NULL"
        " AND empty_since + make_interval(secs => keep_alive_seconds) <= now() ORDER BY empty_since LIMIT $1",
        limit,
    )
    return [str(r["id"]) for r in rows]


# -- peers --------------------------------------------------------------------------------------

async def insert_peer(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    names = [n for n in _PEER_COLUMNS if n in values]
    placeholders = ", ".join(f"${i + 1}" for i in range(len(names)))
    await conn.execute(f"INSERT INTO peers ({', '.join(names)}) VALUES ({placeholders})",
                       *[values[n] for n in names])


async def get_peer(conn: asyncpg.Connection, peer_id: str) -> PeerRec | None:
    row = await conn.fetchrow("SELECT * FROM peers WHERE id = $1", peer_id)
    return PeerRec.from_row(row) if row else None


async def present_peers(conn: asyncpg.Connection, session_id: str) -> list[PeerRec]:
    rows = await conn.fetch("SELECT * FROM peers WHERE session_id = $1 AND state <> 'LEFT' ORDER BY created_at, id",
                            session_id)
    return [PeerRec.from_row(r) for r in rows]


async def update_peer(conn: asyncpg.Connection, peer_id: str, changes: dict[str, Any]) -> None:
    bad = set(changes) - _PEER_UPDATABLE
    if bad:
        raise ValueError(f"not updatable: {sorted(bad)}")
    if not changes:
        return
    names = list(changes)
    sets = ", ".join(f"{n} = ${i + 2}" for i, n in enumerate(names))
    await conn.execute(f"UPDATE peers SET {sets}, updated_at = now() WHERE id = $1", peer_id,
                       *[changes[n] for n in names])


async def touch_peer(conn: asyncpg.Connection, peer_id: str) -> str | None:
    """Heartbeat: refresh last_seen_at of a connected peer; returns its state (None if unknown)."""
    state = await conn.fetchval(
        "UPDATE peers SET last_seen_at = now() WHERE id = $1 AND state IN ('WAITLISTED', 'JOINED') RETURNING state",
        peer_id,
    )
    if state is not None:
        return state
    return await conn.fetchval("SELECT state FROM peers WHERE id = $1", peer_id)


async def stale_peers(conn: asyncpg.Connection, timeout_seconds: float, limit: int = 100) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT id, session_id FROM peers WHERE state IN ('WAITLISTED', 'JOINED')"
        " AND last_seen_at < now() - make_interval(secs => $1) LIMIT $2",
        timeout_seconds, limit,
    )
    return [(str(r["id"]), str(r["session_id"])) for r in rows]


async def expired_peers(conn: asyncpg.Connection, window_seconds: float, limit: int = 100) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT id, session_id FROM peers WHERE state = 'DISCONNECTED'"
        " AND disconnected_at <= now() - make_interval(secs => $1) LIMIT $2",
        window_seconds, limit,
    )
    return [(str(r["id"]), str(r["session_id"])) for r in rows]


async def list_peers(conn: asyncpg.Connection, *, session_id: str, search: str | None, order_by: str,
                     descending: bool, limit: int, offset: int) -> tuple[list[PeerRec], int]:
    args: list[Any] = [session_id]
    where = "session_id = $1"
    if search:
        args += [f"%{search.lower()}%", search]
        where += " AND (lower(display_name) LIKE $2 OR id::text = $3 OR participant_id = $3 OR custom_participant_id = $3)"
    column = {"joined": "COALESCE(joined_at, created_at)",
              "duration": "extract(epoch FROM (COALESCE(left_at, now()) - COALESCE(joined_at, now())))"}[order_by]
    direction = "DESC" if descending else "ASC"
    total = await conn.fetchval(f"SELECT count(*) FROM peers WHERE {where}", *args)
    args += [limit, offset]
    rows = await conn.fetch(
        f"SELECT * FROM peers WHERE {where} ORDER BY {column} {direction}, id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
        *args,
    )
    return [PeerRec.from_row(r) for r in rows], int(total)


async def peers_by_ids(conn: asyncpg.Connection, session_id: str, ids: list[str]) -> list[PeerRec]:
    rows = await conn.fetch("SELECT * FROM peers WHERE session_id = $1 AND id = ANY($2::uuid[])", session_id, ids)
    return [PeerRec.from_row(r) for r in rows]


# -- peer events --------------------------------------------------------------------------------

async def insert_peer_event(conn: asyncpg.Connection, *, event_id: str, peer: PeerRec, name: str, detail: str,
                            minutes: float) -> None:
    await conn.execute(
        "INSERT INTO peer_events (id, peer_id, session_id, participant_id, event_name, detail, socket_session_id,"
        " minutes_consumed, view_type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        event_id, peer.id, peer.session_id, peer.participant_id, name, detail, peer.socket_session_id, minutes,
        peer.view_type,
    )


async def peer_events(conn: asyncpg.Connection, peer_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM peer_events WHERE peer_id = ANY($1::uuid[]) ORDER BY created_at, id", peer_ids
    )


# -- chat ---------------------------------------------------------------------------------------

async def insert_chat(conn: asyncpg.Connection, values: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        "INSERT INTO chat_messages (id, session_id, seq, type, user_id, peer_id, display_name, message,"
        " target_user_ids) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
        values["id"], values["session_id"], values["seq"], values["type"], values["user_id"], values["peer_id"],
        values["display_name"], values["message"], values["target_user_ids"],
    )


async def fetch_chat(conn: asyncpg.Connection, *, session_id: str, user_id: str | None, public: bool,
                     private: bool, before: dt.datetime | None, after: dt.datetime | None, limit: int,
                     newest_first: bool) -> list[asyncpg.Record]:
    """Messages visible to `user_id` (None = all). Private = targeted and involving the user."""
    args: list[Any] = [session_id]
    where = ["session_id = $1"]
    kinds = []
    if public:
        kinds.append("cardinality(target_user_ids) = 0")
    if private:
        if user_id is None:
            kinds.append("cardinality(target_user_ids) > 0")
        else:
            args.append(user_id)
            kinds.append(f"(cardinality(target_user_ids) > 0 AND (user_id = ${len(args)}"
                         f" OR ${len(args)} = ANY(target_user_ids)))")
    if not kinds:
        return []
    where.append("(" + " OR ".join(kinds) + ")")
    if before is not None:
        args.append(before)
        where.append(f"created_at < ${len(args)}")
    if after is not None:
        args.append(after)
        where.append(f"created_at > ${len(args)}")
    args.append(limit)
    order = "DESC" if newest_first else "ASC"
    return await conn.fetch(
        f"SELECT * FROM chat_messages WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ${len(args)}", *args
    )


async def count_chat(conn: asyncpg.Connection, session_id: str) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM chat_messages WHERE session_id = $1", session_id))


# -- polls --------------------------------------------------------------------------------------

async def insert_poll(conn: asyncpg.Connection, values: dict[str, Any]) -> None:
    await conn.execute(
        "INSERT INTO polls (id, session_id, question, options, anonymous, hide_votes, created_by, created_by_user_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        values["id"], values["session_id"], values["question"], values["options"], values["anonymous"],
        values["hide_votes"], values["created_by"], values["created_by_user_id"],
    )


async def get_poll(conn: asyncpg.Connection, session_id: str, poll_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM polls WHERE id = $1 AND session_id = $2", poll_id, session_id)


async def list_polls(conn: asyncpg.Connection, session_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM polls WHERE session_id = $1 ORDER BY created_at, id", session_id)


async def poll_votes(conn: asyncpg.Connection, poll_ids: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM poll_votes WHERE poll_id = ANY($1::uuid[]) ORDER BY created_at",
                            poll_ids)


async def insert_vote(conn: asyncpg.Connection, *, poll_id: str, user_id: str, name: str, option_index: int) -> bool:
    status = await conn.execute(
        "INSERT INTO poll_votes (poll_id, user_id, name, option_index) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (poll_id, user_id) DO NOTHING",
        poll_id, user_id, name, option_index,
    )
    return status.endswith(" 1")
