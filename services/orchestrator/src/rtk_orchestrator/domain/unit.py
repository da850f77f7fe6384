"""One unit of work on a session: a transaction holding the session row lock, the session's
present peers, and what to do after commit (signals to peers, token revocations). Events go to
the transactional outbox inside the transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from realtime.events.v1 import event_pb2
from realtime.signaling.v1 import signal_pb2
from rtkit import outbox
from rtkit.bus import event_subject

from rtk_orchestrator.domain import messages
from rtk_orchestrator.domain.models import JOINED, PeerRec, SessionRec
from rtk_orchestrator.store import pg


class UnitOfWork:
    def __init__(self, conn: asyncpg.Connection, session: SessionRec, peers: Iterable[PeerRec], now: dt.datetime):
        self.conn = conn
        self.session = session
        self.now = now
        self.peers: dict[str, PeerRec] = {p.id: p for p in peers}
        self.signals: list[tuple[str, signal_pb2.ServerMessage]] = []
        self.revocations: set[tuple[str, str]] = set()
        self.events = 0
        self.ending = False

    # -- peers --------------------------------------------------------------------------------
    def connected(self, where: Callable[[PeerRec], bool] = lambda p: True) -> list[PeerRec]:
        """Admitted peers with a live transport (the ones that receive pushes)."""
        return [p for p in self.peers.values() if p.state == JOINED and where(p)]

    def present(self) -> list[PeerRec]:
        return [p for p in self.peers.values() if p.present]

    async def update_peer(self, peer: PeerRec, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(peer, key, value)
        await pg.update_peer(self.conn, peer.id, changes)

    async def update_session(self, **changes: Any) -> None:
        for key, value in changes.items():
            setattr(self.session, key, value)
        await pg.update_session(self.conn, self.session.id, changes)

    async def peer_event(self, peer: PeerRec, name: str, detail: str = "") -> None:
        await pg.insert_peer_event(self.conn, event_id=str(uuid.uuid4()), peer=peer, name=name, detail=detail,
                                   minutes=peer.minutes(self.now))

    # -- delivery -----------------------------------------------------------------------------
    def send(self, peer_id: str, message: signal_pb2.ServerMessage) -> None:
        self.signals.append((peer_id, message))

    def broadcast(self, message: signal_pb2.ServerMessage, *, exclude: Iterable[str] = (),
                  where: Callable[[PeerRec], bool] = lambda p: True) -> None:
        skip = set(exclude)
        for p in self.connected(where):
            if p.id not in skip:
                self.send(p.id, message)

    async def emit(self, event: str, payload_field: str, payload: Message) -> None:
        envelope = event_pb2.Event(event_id=str(uuid.uuid4()), app_id=self.session.app_id,
                                   occur_time=timestamp_pb2.Timestamp())
        envelope.occur_time.FromDatetime(self.now)
        getattr(envelope, payload_field).CopyFrom(payload)
        subject = event_subject(self.session.app_id, "meetings", self.session.meeting_id, event)
        await outbox.add(self.conn, subject, envelope, event_id=envelope.event_id)
        self.events += 1

    async def session_proto(self) -> Any:
        rec = await pg.get_session_by_id(self.conn, self.session.id)
        assert rec is not None
        return messages.session(rec)
