"""REST reads: sessions, peers, peer reports and the signed chat export."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from google.protobuf import timestamp_pb2
from realtime.meeting.v1 import preset_pb2
from realtime.session.v1 import peer_pb2, session_pb2
from realtime.signaling.v1 import signal_pb2
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_orchestrator.domain import messages as m
from rtk_orchestrator.domain.common import (
    _is_uuid,
    chat_csv,
)
from rtk_orchestrator.store import pg

log = get_logger("rtk_orchestrator")
S = session_pb2
SIG = signal_pb2
P = preset_pb2


class ReadsMixin:
    """Mixed into Orchestrator (rtk_orchestrator.domain.orchestrator); uses its units of work."""

    async def list_sessions(self, **kwargs: Any) -> tuple[list[session_pb2.Session], int]:
        async with self._pool.acquire() as conn:
            rows, total = await pg.list_sessions(conn, **kwargs)
        return [m.session(r) for r in rows], total

    async def get_session(self, app_id: str, session_id: str) -> session_pb2.Session:
        async with self._pool.acquire() as conn:
            rec = await pg.get_session(conn, app_id, session_id) if _is_uuid(session_id) else None
        if rec is None:
            raise ApiError("SESSION_NOT_FOUND", f"No session with id {session_id}.", sessionId=session_id)
        return m.session(rec)

    async def active_session(self, app_id: str, meeting_id: str) -> session_pb2.Session:
        session_id = await self._live_session_id(app_id, meeting_id)
        return await self.get_session(app_id, session_id)

    async def list_peers(self, app_id: str, session_id: str, *, search: str | None, order_by: str, descending: bool,
                         limit: int, offset: int, include_events: bool) -> tuple[list[peer_pb2.Peer], int]:
        await self.get_session(app_id, session_id)
        async with self._pool.acquire() as conn:
            peers, total = await pg.list_peers(conn, session_id=session_id, search=search, order_by=order_by,
                                               descending=descending, limit=limit, offset=offset)
            now = await pg.now(conn)
            events = await pg.peer_events(conn, [p.id for p in peers]) if include_events and peers else []
        return [m.peer_record(p, now, [e for e in events if str(e["peer_id"]) == p.id]) for p in peers], total

    async def get_peer(self, app_id: str, peer_id: str, *, session_id: str | None = None,
                       include_events: bool = False) -> peer_pb2.Peer:
        if session_id is not None:
            await self.get_session(app_id, session_id)
        async with self._pool.acquire() as conn:
            peer = await pg.get_peer(conn, peer_id) if _is_uuid(peer_id) else None
            if peer is None or peer.app_id != app_id or (session_id is not None and peer.session_id != session_id):
                raise ApiError("PEER_NOT_FOUND", f"No peer with id {peer_id}.", peerId=peer_id)
            now = await pg.now(conn)
            events = await pg.peer_events(conn, [peer.id]) if include_events else []
        return m.peer_record(peer, now, events)

    def _export_signature(self, app_id: str, session_id: str, expires: int) -> str:
        return hmac.new(self.config.export_key, f"{app_id}:{session_id}:{expires}".encode(), hashlib.sha256).hexdigest()

    def chat_export_url(self, app_id: str, session_id: str, *, ttl: int | None = None) -> tuple[str, int]:
        expires = int(time.time()) + (ttl or self.config.export_ttl)
        signature = self._export_signature(app_id, session_id, expires)
        base = self.config.public_url.rstrip("/")
        return (f"{base}/v1/exports/sessions/{session_id}/chat.csv?app_id={app_id}&expires={expires}"
                f"&signature={signature}", expires)

    async def session_chat(self, app_id: str, session_id: str) -> tuple[str, timestamp_pb2.Timestamp, int]:
        await self.get_session(app_id, session_id)
        async with self._pool.acquire() as conn:
            count = await pg.count_chat(conn, session_id)
        url, expires = self.chat_export_url(app_id, session_id)
        expiry = timestamp_pb2.Timestamp(seconds=expires)
        return url, expiry, count

    async def export_chat(self, app_id: str, session_id: str, expires: int, signature: str) -> bytes:
        expected = self._export_signature(app_id, session_id, expires)
        if not hmac.compare_digest(expected, signature):
            raise ApiError("TOKEN_INVALID", "The download link is not valid.")
        if expires < time.time():
            raise ApiError("TOKEN_EXPIRED", "The download link has expired.")
        await self.get_session(app_id, session_id)
        async with self._pool.acquire() as conn:
            rows = await pg.fetch_chat(conn, session_id=session_id, user_id=None, public=True, private=True,
                                       before=None, after=None, limit=1_000_000, newest_first=False)
        return chat_csv(rows)
