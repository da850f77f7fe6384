"""What the domain needs from the outside world, as small Protocols (real implementations in
rtk_meeting.adapters; tests may pass small fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

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
    """One committed change to publish: `payload` goes in the Event's `payload_field`."""

    app_id: str
    collection: str
    resource_id: str
    event: str
    payload_field: str
    payload: Message


class EventPublisher(Protocol):
    """Publishes a committed change as a realtime.events.v1.Event."""

    async def publish(self, *, app_id: str, collection: str, resource_id: str, event: str, payload_field: str,
                      payload: Message) -> None: ...

    async def publish_many(self, events: Sequence[PendingEvent]) -> None:
        """Several events at once (one acknowledgement round trip)."""
        ...
