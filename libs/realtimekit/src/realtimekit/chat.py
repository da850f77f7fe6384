"""`meeting.chat` (reference §10.7): text messages, public or private, in the server's order.

`messages` is ordered by the session's sequence number (the server's total order) and holds each
message once, whether it arrived as the reply to a send or as a push. Event:
`chatUpdate({action: "add", message, messages})`.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from realtimekit import wire
from realtimekit.events import EventEmitter

if TYPE_CHECKING:
    from realtimekit.client import RealtimeKitClient

S = wire.signal_pb2


@dataclass(frozen=True, slots=True)
class ChatMessage:
    id: str
    type: str
    user_id: str
    peer_id: str
    display_name: str
    message: str
    time: datetime | None
    time_ms: int
    target_user_ids: list[str] = field(default_factory=list)
    pinned: bool = False
    sequence: int = 0

    @property
    def is_private(self) -> bool:
        return bool(self.target_user_ids)

    @classmethod
    def from_proto(cls, m: Any) -> ChatMessage:
        return cls(
            id=m.id, type=wire.chat_type(m.type), user_id=m.user_id, peer_id=m.peer_id,
            display_name=m.display_name, message=m.message, time=wire.timestamp(m, "time"), time_ms=m.time_ms,
            target_user_ids=list(m.target_user_ids), pinned=m.pinned, sequence=m.sequence,
        )


class Chat(EventEmitter):
    def __init__(self, client: RealtimeKitClient) -> None:
        super().__init__()
        self._client = client
        self.messages: list[ChatMessage] = []
        self._ids: set[str] = set()
        self.max_text_limit = 4000

    async def send_text_message(self, text: str, peer_ids: list[str] | None = None) -> ChatMessage:
        """Send a text message; with `peer_ids` (peer or user ids) it is private to them."""
        reply = await self._client._request(
            chat_send=S.ChatSend(type=wire.chat_pb2.CHAT_MESSAGE_TYPE_TEXT, message=text, target_ids=list(peer_ids or []))
        )
        if reply.HasField("chat_message"):
            return self._add(reply.chat_message) or self._find(reply.chat_message.id)
        raise AssertionError("chat_send reply without chat_message")

    async def send_message(self, message: dict[str, Any], participant_ids: list[str] | None = None) -> ChatMessage:
        """`{"type": "text", "message": "…"}` (only text is supported today)."""
        if message.get("type", "text") != "text":
            from realtimekit.errors import ClientError

            raise ClientError("0501", f"Chat messages of type {message.get('type')!r} are not supported.")
        return await self.send_text_message(str(message.get("message", "")), participant_ids)

    async def fetch_public_messages(self, timestamp_ms: int = 0, limit: int = 50, reversed: bool = True) -> list[ChatMessage]:  # noqa: A002
        return await self._fetch(timestamp_ms, limit, reversed, public_only=True)

    async def fetch_private_messages(self, timestamp_ms: int = 0, limit: int = 50, reversed: bool = True) -> list[ChatMessage]:  # noqa: A002
        return await self._fetch(timestamp_ms, limit, reversed, private_only=True)

    async def _fetch(self, timestamp_ms: int, limit: int, older: bool, **only: bool) -> list[ChatMessage]:
        direction = S.CHAT_FETCH_DIRECTION_OLDER if older else S.CHAT_FETCH_DIRECTION_NEWER
        reply = await self._client._request(
            chat_fetch=S.ChatFetch(timestamp_ms=timestamp_ms, limit=limit, direction=direction, **only)
        )
        return [ChatMessage.from_proto(m) for m in reply.chat_messages.messages]

    def _find(self, message_id: str) -> ChatMessage:
        return next(m for m in self.messages if m.id == message_id)

    def _add(self, proto: Any, *, emit: bool = True) -> ChatMessage | None:
        if proto.id in self._ids:
            return None
        message = ChatMessage.from_proto(proto)
        self._ids.add(message.id)
        keys = [m.sequence for m in self.messages]
        self.messages.insert(bisect.bisect_right(keys, message.sequence), message)
        if emit:
            self.emit("chatUpdate", {"action": "add", "message": message, "messages": list(self.messages)})
        return message

    def _reset(self, history: list[Any]) -> None:
        for proto in history:
            self._add(proto, emit=False)
