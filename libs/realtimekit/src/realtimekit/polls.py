"""`meeting.polls` (reference §10.8). Event: `pollsUpdate({polls, new_poll})`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from realtimekit import wire
from realtimekit.events import EventEmitter

if TYPE_CHECKING:
    from realtimekit.client import RealtimeKitClient

S = wire.signal_pb2


@dataclass(frozen=True, slots=True)
class PollOption:
    text: str
    count: int
    votes: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Poll:
    id: str
    question: str
    options: list[PollOption]
    anonymous: bool
    hide_votes: bool
    created_by: str
    created_by_user_id: str
    voted: list[str]
    created_at: datetime | None

    @classmethod
    def from_proto(cls, p: Any) -> Poll:
        return cls(
            id=p.id, question=p.question,
            options=[PollOption(o.text, o.count, [{"id": v.id, "name": v.name} for v in o.votes]) for o in p.options],
            anonymous=p.anonymous, hide_votes=p.hide_votes, created_by=p.created_by,
            created_by_user_id=p.created_by_user_id, voted=list(p.voted), created_at=wire.timestamp(p, "create_time"),
        )


class Polls(EventEmitter):
    def __init__(self, client: RealtimeKitClient) -> None:
        super().__init__()
        self._client = client
        self._items: dict[str, Poll] = {}

    @property
    def items(self) -> list[Poll]:
        return list(self._items.values())

    async def create(self, question: str, options: list[str], anonymous: bool = False, hide_votes: bool = False) -> Poll:
        reply = await self._client._request(
            poll_create=S.PollCreate(question=question, options=list(options), anonymous=anonymous, hide_votes=hide_votes)
        )
        return self._update(reply.poll_updated.poll, new=True)

    async def vote(self, poll_id: str, option_index: int) -> Poll | None:
        reply = await self._client._request(poll_vote=S.PollVote(poll_id=poll_id, option_index=option_index))
        if reply.HasField("poll_updated"):
            return self._update(reply.poll_updated.poll, new=False)
        return self._items.get(poll_id)

    def _update(self, proto: Any, *, new: bool, emit: bool = True) -> Poll:
        poll = Poll.from_proto(proto)
        is_new = poll.id not in self._items
        changed = is_new or self._items[poll.id] != poll
        self._items[poll.id] = poll
        if emit and changed:
            self.emit("pollsUpdate", {"polls": self.items, "new_poll": new or is_new, "poll": poll})
        return poll

    def _reset(self, polls: list[Any]) -> None:
        for proto in polls:
            self._update(proto, new=False, emit=False)
