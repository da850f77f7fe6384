"""asyncpg queries of `meeting.webhooks` and `meeting.webhook_deliveries`. Every query on
webhooks filters by app_id. Functions take a connection or a pool (`Conn`): callers choose the
transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
from google.protobuf import timestamp_pb2
from realtime.meeting.v1 import webhook_pb2

from rtk_meeting.webhooks import catalogue

Conn = asyncpg.Connection | asyncpg.Pool

_COLUMNS = "app_id, id, name, url, events, enabled, create_time, update_time"

PENDING, DELIVERED, FAILED, CANCELLED = "PENDING", "DELIVERED", "FAILED", "CANCELLED"


def _ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def row_to_webhook(row: asyncpg.Record) -> webhook_pb2.Webhook:
    events = []
    for name in row["events"]:
        try:
            events.append(catalogue.to_number(name))
        except ValueError:  # an event name retired from the catalogue: not shown
            continue
    return webhook_pb2.Webhook(
        id=str(row["id"]),
        app_id=row["app_id"],
        name=row["name"],
        url=row["url"],
        events=events,
        enabled=row["enabled"],
        create_time=_ts(row["create_time"]),
        update_time=_ts(row["update_time"]),
    )


def _names(webhook: webhook_pb2.Webhook) -> list[str]:
    return [catalogue.to_name(e) for e in webhook.events]


# --- webhooks ---------------------------------------------------------------------------------


async def count(conn: Conn, app_id: str) -> int:
    return await conn.fetchval("SELECT count(*) FROM webhooks WHERE app_id = $1", app_id)


async def insert(conn: Conn, app_id: str, webhook: webhook_pb2.Webhook) -> webhook_pb2.Webhook:
    row = await conn.fetchrow(
        f"""INSERT INTO webhooks (app_id, id, name, url, events, enabled)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_COLUMNS}""",
        app_id, uuid.uuid4(), webhook.name, webhook.url, _names(webhook), webhook.enabled,
    )
    return row_to_webhook(row)


async def get(conn: Conn, app_id: str, webhook_id: str, *, for_update: bool = False) -> webhook_pb2.Webhook | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM webhooks WHERE app_id = $1 AND id = $2{lock}", app_id, uuid.UUID(webhook_id)
    )
    return row_to_webhook(row) if row else None


async def update(conn: Conn, app_id: str, webhook_id: str, webhook: webhook_pb2.Webhook) -> webhook_pb2.Webhook | None:
    row = await conn.fetchrow(
        f"""UPDATE webhooks SET name = $3, url = $4, events = $5, enabled = $6,
                update_time = greatest(now(), update_time + interval '1 microsecond')
            WHERE app_id = $1 AND id = $2 RETURNING {_COLUMNS}""",
        app_id, uuid.UUID(webhook_id), webhook.name, webhook.url, _names(webhook), webhook.enabled,
    )
    return row_to_webhook(row) if row else None


async def delete(conn: Conn, app_id: str, webhook_id: str) -> webhook_pb2.Webhook | None:
    row = await conn.fetchrow(
        f"DELETE FROM webhooks WHERE app_id = $1 AND id = $2 RETURNING {_COLUMNS}", app_id, uuid.UUID(webhook_id)
    )
    return row_to_webhook(row) if row else None


async def list_(conn: Conn, app_id: str, *, offset: int, limit: int) -> tuple[list[webhook_pb2.Webhook], int]:
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS}, count(*) OVER () AS total FROM webhooks WHERE app_id = $1
            ORDER BY create_time, id LIMIT $2 OFFSET $3""",
        app_id, limit, offset,
    )
    if rows:
        return [row_to_webhook(r) for r in rows], rows[0]["total"]
    return [], await count(conn, app_id)


async def subscribers(conn: Conn, app_id: str, event: str) -> list[uuid.UUID]:
    """Enabled webhooks of the app subscribed to `event` (a wire name)."""
    rows = await conn.fetch(
        "SELECT id FROM webhooks WHERE app_id = $1 AND enabled AND $2 = ANY(events) ORDER BY create_time, id",
        app_id, event,
    )
    return [r["id"] for r in rows]


# --- the meeting service's own tables (read-only) ------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeetingRow:
    title: str | None
    create_time: dt.datetime


async def meeting(conn: Conn, app_id: str, meeting_id: str) -> MeetingRow | None:
    """Title and creation time of a meeting (meeting.meetings, owned by this service)."""
    try:
        mid = uuid.UUID(meeting_id)
    except (ValueError, TypeError):
        return None
    row = await conn.fetchrow("SELECT title, create_time FROM meetings WHERE app_id = $1 AND id = $2", app_id, mid)
    return MeetingRow(row["title"], row["create_time"]) if row else None


# --- deliveries -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewDelivery:
    id: uuid.UUID
    app_id: str
    webhook_id: uuid.UUID
    event_id: str
    event: str
    body: bytes
    event_time: dt.datetime


async def enqueue(conn: Conn, deliveries: list[NewDelivery]) -> int:
    """Insert deliveries; ones already recorded (same id) are left alone. Returns the count inserted."""
    if not deliveries:
        return 0
    rows = await conn.fetch(
        """INSERT INTO webhook_deliveries (id, app_id, webhook_id, event_id, event, body, event_time)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::text[], $6::bytea[],
                                $7::timestamptz[])
           ON CONFLICT (id) DO NOTHING
           RETURNING id""",
        [d.id for d in deliveries], [d.app_id for d in deliveries], [d.webhook_id for d in deliveries],
        [d.event_id for d in deliveries], [d.event for d in deliveries], [d.body for d in deliveries],
        [d.event_time for d in deliveries],
    )
    return len(rows)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: uuid.UUID
    app_id: str
    webhook_id: uuid.UUID
    event: str
    body: bytes
    attempts: int  # including the one now claimed
    create_time: dt.datetime
    url: str | None  # None: the webhook was deleted or disabled since the delivery was recorded


async def claim(conn: Conn, *, limit: int, lease_seconds: float, claim_id: uuid.UUID) -> list[Claimed]:
    """Reserve up to `limit` due deliveries for this worker: the rows are locked only for this
    statement (SKIP LOCKED lets replicas claim disjoint sets), then held by a lease — their
    next_attempt_time moves `lease_seconds` ahead, so a crashed claimer's rows come back."""
    rows = await conn.fetch(
        """WITH due AS (
               SELECT id FROM webhook_deliveries
               WHERE status = 'PENDING' AND next_attempt_time <= now()
               ORDER BY next_attempt_time
               LIMIT $1
               FOR UPDATE SKIP LOCKED
           )
           UPDATE webhook_deliveries d
              SET attempts = d.attempts + 1,
                  next_attempt_time = now() + make_interval(secs => $2),
                  claim_id = $3,
                  update_time = now()
             FROM due
            WHERE d.id = due.id
        RETURNING d.id, d.app_id, d.webhook_id, d.event, d.body, d.attempts, d.create_time,
                  (SELECT w.url FROM webhooks w
                    WHERE w.app_id = d.app_id AND w.id = d.webhook_id AND w.enabled) AS url""",
        limit, lease_seconds, claim_id,
    )
    return [
        Claimed(r["id"], r["app_id"], r["webhook_id"], r["event"], bytes(r["body"]), r["attempts"],
                r["create_time"], r["url"])
        for r in rows
    ]


async def finish(conn: Conn, delivery_id: uuid.UUID, claim_id: uuid.UUID, *, status: str,
                 status_code: int | None, error: str | None) -> bool:
    """Record a final outcome (DELIVERED, FAILED, CANCELLED); False if the lease was lost."""
    result = await conn.execute(
        """UPDATE webhook_deliveries
              SET status = $3, last_status_code = $4, last_error = $5, claim_id = NULL,
                  finish_time = now(), update_time = now()
            WHERE id = $1 AND claim_id = $2 AND status = 'PENDING'""",
        delivery_id, claim_id, status, status_code, error,
    )
    return result.endswith(" 1")


async def retry_later(conn: Conn, delivery_id: uuid.UUID, claim_id: uuid.UUID, *, delay_seconds: float,
                      status_code: int | None, error: str | None) -> bool:
    """Schedule the next attempt; False if the lease was lost."""
    result = await conn.execute(
        """UPDATE webhook_deliveries
              SET next_attempt_time = now() + make_interval(secs => $3), last_status_code = $4,
                  last_error = $5, claim_id = NULL, update_time = now()
            WHERE id = $1 AND claim_id = $2 AND status = 'PENDING'""",
        delivery_id, claim_id, delay_seconds, status_code, error,
    )
    return result.endswith(" 1")


async def release(conn: Conn, claims: list[tuple[uuid.UUID, uuid.UUID]]) -> None:
    """Give deliveries back (shutdown): due now, attempt not counted."""
    if not claims:
        return
    await conn.execute(
        """UPDATE webhook_deliveries d
              SET next_attempt_time = now(), claim_id = NULL, attempts = greatest(d.attempts - 1, 0),
                  update_time = now()
             FROM unnest($1::uuid[], $2::uuid[]) AS c(id, claim_id)
            WHERE d.id = c.id AND d.claim_id = c.claim_id AND d.status = 'PENDING'""",
        [c[0] for c in claims], [c[1] for c in claims],
    )


async def seconds_until_due(conn: Conn) -> float | None:
    """Seconds until the earliest pending delivery is due (by the database clock); None if none."""
    value = await conn.fetchval(
        "SELECT extract(epoch FROM min(next_attempt_time) - now()) FROM webhook_deliveries WHERE status = 'PENDING'"
    )
    return float(value) if value is not None else None


async def purge(conn: Conn, *, older_than_days: int, limit: int = 10_000) -> int:
    """Delete finished deliveries older than the retention (in bounded batches)."""
    result = await conn.execute(
        """DELETE FROM webhook_deliveries WHERE id IN (
               SELECT id FROM webhook_deliveries
               WHERE status <> 'PENDING' AND finish_time < now() - make_interval(days => $1)
               LIMIT $2)""",
        older_than_days, limit,
    )
    return int(result.split()[-1])


async def deliveries(conn: Conn, app_id: str, webhook_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest deliveries of a webhook (diagnostics and tests)."""
    rows = await conn.fetch(
        """SELECT id, event_id, event, status, attempts, last_status_code, last_error, create_time, finish_time
             FROM webhook_deliveries WHERE app_id = $1 AND webhook_id = $2
            ORDER BY create_time DESC LIMIT $3""",
        app_id, uuid.UUID(webhook_id), limit,
    )
    return [dict(r) for r in rows]
