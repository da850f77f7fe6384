"""Chat, polls and custom broadcasts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
from realtime.events.v1 import session_events_pb2 as ev
from realtime.meeting.v1 import preset_pb2
from realtime.session.v1 import chat_pb2, session_pb2
from realtime.signaling.v1 import signal_pb2
from rtkit.errors import ApiError, invalid_field
from rtkit.logging import get_logger

from rtk_orchestrator.domain import messages as m
from rtk_orchestrator.domain import permissions as perm
from rtk_orchestrator.domain.common import (
    _is_uuid,
)
from rtk_orchestrator.domain.models import (
    DISCONNECTED,
    JOINED,
    PeerRec,
)
from rtk_orchestrator.domain.unit import UnitOfWork
from rtk_orchestrator.store import pg

log = get_logger("rtk_orchestrator")
S = session_pb2
SIG = signal_pb2
P = preset_pb2


class MessagingMixin:
    """Mixed into Orchestrator (rtk_orchestrator.domain.orchestrator); uses its units of work."""

    async def _visible_chat(self, conn: asyncpg.Connection, session_id: str, peer: PeerRec, *,
                            before: dt.datetime | None, after: dt.datetime | None, limit: int, newest_first: bool,
                            public: bool = True, private: bool = True) -> list[Any]:
        return await pg.fetch_chat(conn, session_id=session_id, user_id=peer.participant_id, public=public,
                                   private=private, before=before, after=after, limit=limit,
                                   newest_first=newest_first)

    async def _on_chat_send(self, unit: UnitOfWork, peer: PeerRec, body: SIG.ChatSend, request_id: str):
        if body.type not in (chat_pb2.CHAT_MESSAGE_TYPE_UNSPECIFIED, chat_pb2.CHAT_MESSAGE_TYPE_TEXT):
            raise invalid_field("type", "only text messages are supported")
        text = body.message
        if not text.strip() or len(text) > 4000:
            raise invalid_field("message", "must be 1 … 4000 characters")
        chat = peer.permissions.chat
        targets: list[PeerRec] = []
        if body.target_ids:
            if not (chat.private.can_send and chat.private.text):
                raise perm.denied("chat.private.can_send", "Your preset may not send private messages.")
            targets = [t for t in self._targets(unit, list(body.target_ids), states=(JOINED, DISCONNECTED))
                       if t.participant_id != peer.participant_id]
            if not targets:
                raise ApiError("PEER_NOT_FOUND", "None of the recipients is in the session.",
                               targetIds=",".join(body.target_ids))
            refused = [t for t in targets if not t.permissions.chat.private.can_receive]
            if refused:
                raise perm.denied("chat.private.can_receive",
                                  f"{refused[0].display_name or refused[0].id} may not receive private messages.")
        elif not (chat.public.can_send and chat.public.text):
            raise perm.denied("chat.public.can_send", "Your preset may not send public messages.")
        if not self._chat_limit.allow(peer.id):
            raise ApiError("RATE_LIMITED", "Too many chat messages; slow down.", limit=self.config.chat_per_minute)
        target_user_ids = sorted({t.participant_id for t in targets})
        row = await pg.insert_chat(unit.conn, {
            "id": str(uuid.uuid4()), "session_id": unit.session.id, "seq": await pg.next_chat_seq(unit.conn,
                                                                                                   unit.session.id),
            "type": chat_pb2.CHAT_MESSAGE_TYPE_TEXT, "user_id": peer.participant_id, "peer_id": peer.id,
            "display_name": peer.display_name, "message": text, "target_user_ids": target_user_ids,
        })
        message = m.chat_message(row)
        push = m.server(chat_message=message)
        if target_user_ids:
            audience = set(target_user_ids) | {peer.participant_id}
            unit.broadcast(push, exclude=[peer.id], where=lambda p: p.participant_id in audience)
        else:
            unit.broadcast(push, exclude=[peer.id])
        await unit.emit("chat_message_sent", "chat_message_sent", ev.ChatMessageSent(message=message))
        return m.server(request_id, chat_message=message)

    async def _on_chat_fetch(self, unit: UnitOfWork, peer: PeerRec, body: SIG.ChatFetch, request_id: str):
        limit = body.limit or 50
        if not 1 <= limit <= 200:
            raise invalid_field("limit", "must be 1 … 200")
        if body.private_only and body.public_only:
            raise invalid_field("private_only", "cannot be combined with public_only")
        # Millisecond reference, exclusive on both sides: OLDER returns messages before that
        # millisecond, NEWER those after it (so paging with a message's time_ms never repeats it).
        reference = dt.datetime.fromtimestamp(body.timestamp_ms / 1000, dt.UTC) if body.timestamp_ms else None
        newer = body.direction == SIG.CHAT_FETCH_DIRECTION_NEWER
        before = None if newer else reference
        after = reference + dt.timedelta(microseconds=999) if newer and reference else None
        rows = await self._visible_chat(
            unit.conn, unit.session.id, peer, before=before, after=after, limit=limit + 1, newest_first=not newer,
            public=not body.private_only, private=not body.public_only)
        has_more = len(rows) > limit
        rows = rows[:limit]
        if not newer:
            rows = list(reversed(rows))
        return m.server(request_id, chat_messages=SIG.ChatMessages(messages=[m.chat_message(r) for r in rows],
                                                                    has_more=has_more))

    async def _polls(self, conn: asyncpg.Connection, session_id: str, viewer: str | None, *,
                     full: bool = False) -> list[Any]:
        rows = await pg.list_polls(conn, session_id)
        if not rows:
            return []
        votes = await pg.poll_votes(conn, [str(r["id"]) for r in rows])
        return [m.poll(r, [v for v in votes if v["poll_id"] == r["id"]], viewer_user_id=viewer, full=full)
                for r in rows]

    async def _publish_poll(self, unit: UnitOfWork, poll_id: str, *, new: bool) -> Any:
        row = await pg.get_poll(unit.conn, unit.session.id, poll_id)
        votes = await pg.poll_votes(unit.conn, [poll_id])
        for p in unit.connected(lambda p: p.permissions.polls.can_view):
            view = m.poll(row, votes, viewer_user_id=p.participant_id)
            unit.send(p.id, m.server(poll_updated=SIG.PollUpdated(poll=view, new_poll=new)))
        return row, votes

    async def create_poll(self, unit: UnitOfWork, *, question: str, options: list[str], anonymous: bool,
                          hide_votes: bool, creator: PeerRec | None) -> Any:
        question = question.strip()
        if not 1 <= len(question) <= 1000:
            raise invalid_field("question", "must be 1 … 1000 characters")
        if not 2 <= len(options) <= 20:
            raise invalid_field("options", "must have 2 … 20 entries")
        if any(not o.strip() or len(o) > 500 for o in options):
            raise invalid_field("options", "each must be 1 … 500 characters")
        poll_id = str(uuid.uuid4())
        await pg.insert_poll(unit.conn, {
            "id": poll_id, "session_id": unit.session.id, "question": question, "options": list(options),
            "anonymous": anonymous, "hide_votes": hide_votes,
            "created_by": creator.display_name if creator else "",
            "created_by_user_id": creator.participant_id if creator else "",
        })
        row, votes = await self._publish_poll(unit, poll_id, new=True)
        await unit.emit("poll_created", "poll_created", ev.PollCreated(poll=m.poll(row, votes, full=True)))
        return row, votes

    async def _on_poll_create(self, unit: UnitOfWork, peer: PeerRec, body: SIG.PollCreate, request_id: str):
        if not peer.permissions.polls.can_create:
            raise perm.denied("polls.can_create", "Your preset may not create polls.")
        row, votes = await self.create_poll(unit, question=body.question, options=list(body.options),
                                            anonymous=body.anonymous, hide_votes=body.hide_votes, creator=peer)
        return m.server(request_id, poll_updated=SIG.PollUpdated(
            poll=m.poll(row, votes, viewer_user_id=peer.participant_id), new_poll=True))

    async def _on_poll_vote(self, unit: UnitOfWork, peer: PeerRec, body: SIG.PollVote, request_id: str):
        if not peer.permissions.polls.can_vote:
            raise perm.denied("polls.can_vote", "Your preset may not vote in polls.")
        row = await pg.get_poll(unit.conn, unit.session.id, body.poll_id) if _is_uuid(body.poll_id) else None
        if row is None:
            raise ApiError("POLL_NOT_FOUND", f"No poll with id {body.poll_id} in this session.", pollId=body.poll_id)
        if not 0 <= body.option_index < len(row["options"]):
            raise invalid_field("option_index", f"must be 0 … {len(row['options']) - 1}")
        if not await pg.insert_vote(unit.conn, poll_id=body.poll_id, user_id=peer.participant_id,
                                    name=peer.display_name, option_index=body.option_index):
            raise invalid_field("poll_id", "you have already voted in this poll")
        row, votes = await self._publish_poll(unit, body.poll_id, new=False)
        await unit.emit("poll_voted", "poll_voted", ev.PollVoted(
            poll=m.poll(row, votes, full=True), participant_id=peer.participant_id, option_index=body.option_index))
        return m.server(request_id, poll_updated=SIG.PollUpdated(
            poll=m.poll(row, votes, viewer_user_id=peer.participant_id)))

    async def _on_broadcast(self, unit: UnitOfWork, peer: PeerRec, body: SIG.BroadcastSend, request_id: str) -> None:
        if not 1 <= len(body.type) <= 100:
            raise invalid_field("type", "must be 1 … 100 characters")
        if body.payload.ByteSize() > 16 * 1024:
            raise invalid_field("payload", "must be at most 16 KiB")
        if not self._broadcast_limit.allow(peer.id):
            raise ApiError("RATE_LIMITED", "At most 5 broadcast messages per second.",
                           limit=self.config.broadcast_per_second)
        message = m.server(broadcast=SIG.Broadcast(type=body.type, payload=body.payload, from_peer_id=peer.id,
                                                  from_user_id=peer.participant_id,
                                                  timestamp=m.ts(unit.now)))
        if body.HasField("target") and (body.target.participant_ids or body.target.preset_names):
            ids = set(body.target.participant_ids)
            presets = set(body.target.preset_names)
            unit.broadcast(message, where=lambda p: p.id in ids or p.participant_id in ids or p.preset_name in presets)
        else:
            unit.broadcast(message)

    async def create_poll_rest(self, app_id: str, meeting_id: str, *, question: str, options: list[str],
                               anonymous: bool, hide_votes: bool) -> Any:
        async with self._live_unit(app_id, meeting_id) as unit:
            row, votes = await self.create_poll(unit, question=question, options=options, anonymous=anonymous,
                                                hide_votes=hide_votes, creator=None)
        return m.poll(row, votes, full=True)
