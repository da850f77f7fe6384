"""What the domain needs from the outside world, as small Protocols (real implementations in
rtk_meeting.adapters; tests may pass small fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf.message import Message


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    token_id: str


@dataclass(frozen=True, slots=True)
class TokenRequest:
    app_id: str
    meeting_id: str
    participant_id: str
    preset_id: str


class TokenIssuer(Protocol):
    """The auth service's participant-token RPCs."""

    async def issue(self, *, app_id: str, meeting_id: str, participant_id: str, preset_id: str) -> IssuedToken: ...

    async def issue_many(self, requests: list[TokenRequest]) -> list[IssuedToken]:
        """All or nothing: every token, in order, or an error and none."""
        ...

    async def revoke(self, *, app_id: str, participant_id: str, except_token_id: str = "") -> int: ...


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One change to publish: `payload` goes in the Event's field named `event`, which is also the
    subject's last token (`…apps.<app_id>.<collection>.<resource_id>.<event>`)."""

    app_id: str
    collection: str
    resource_id: str
    event: str
    payload: Message


class EventRecorder(Protocol):
    """Records changes as realtime.events.v1.Events in the transaction that makes them (a
    transactional outbox): an event exists exactly when its change commits, and is published to
    JetStream after the commit, even if NATS is away at that moment or the service dies."""

    async def record(self, conn: Any, events: Sequence[PendingEvent]) -> None:
        """Call inside the change's transaction (`conn` is its connection)."""
        ...

    def committed(self) -> None:
        """Call after a transaction that recorded events committed: publish them now."""
        ...
