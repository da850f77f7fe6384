"""Fixtures for the meeting service's domain and store tests: a migrated `meeting` schema on a
fresh database, plus small fakes of the two ports that cross process boundaries (the auth
service's token RPCs and the event publisher)."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field

import pytest
from google.protobuf.message import Message
from rtk_meeting.app import MIGRATIONS_DIR, SCHEMA
from rtk_meeting.domain.meetings import Meetings
from rtk_meeting.domain.participants import Participants
from rtk_meeting.domain.ports import IssuedToken, PendingEvent, TokenRequest
from rtk_meeting.domain.presets import Presets
from rtk_meeting.domain.seeding import PresetSeeder
from rtkit import db as rtk_db


class FakeTokens:
    """Records issued and revoked tokens like the auth service would."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self.issued: list[dict[str, str]] = []
        self.revoked: set[str] = set()
        self.fail_next = False

    async def issue(self, *, app_id: str, meeting_id: str, participant_id: str, preset_id: str) -> IssuedToken:
        if self.fail_next:
            self.fail_next = False
            from rtkit.errors import ApiError

            raise ApiError("DEPENDENCY_UNAVAILABLE", "auth down")
        token_id = f"t{next(self._ids)}"
        self.issued.append(dict(app_id=app_id, meeting_id=meeting_id, participant_id=participant_id,
                                preset_id=preset_id, token_id=token_id))
        return IssuedToken(token=f"jwt.{token_id}", token_id=token_id)

    async def issue_many(self, requests: list[TokenRequest]) -> list[IssuedToken]:
        if self.fail_next:  # all or nothing, like the auth service's batch RPC
            self.fail_next = False
            from rtkit.errors import ApiError

            raise ApiError("DEPENDENCY_UNAVAILABLE", "auth down")
        return [await self.issue(app_id=r.app_id, meeting_id=r.meeting_id, participant_id=r.participant_id,
                                 preset_id=r.preset_id) for r in requests]

    async def revoke(self, *, app_id: str, participant_id: str, except_token_id: str = "") -> int:
        ids = {t["token_id"] for t in self.issued
               if t["participant_id"] == participant_id and t["app_id"] == app_id} - {except_token_id}
        fresh = ids - self.revoked
        self.revoked |= ids
        return len(fresh)

    def valid(self, participant_id: str) -> list[str]:
        return [t["token_id"] for t in self.issued
                if t["participant_id"] == participant_id and t["token_id"] not in self.revoked]


@dataclass
class RecordedEvent:
    app_id: str
    subject_tail: str
    payload_field: str
    payload: Message


@dataclass
class FakeEvents:
    events: list[RecordedEvent] = field(default_factory=list)

    async def publish(self, *, app_id: str, collection: str, resource_id: str, event: str, payload_field: str,
                      payload: Message) -> None:
        self.events.append(RecordedEvent(app_id, f"{collection}.{resource_id}.{event}", payload_field, payload))

    async def publish_many(self, events: list[PendingEvent]) -> None:
        for e in events:
            await self.publish(app_id=e.app_id, collection=e.collection, resource_id=e.resource_id, event=e.event,
                               payload_field=e.payload_field, payload=e.payload)

    def names(self) -> list[str]:
        return [e.payload_field for e in self.events]


@dataclass
class Domain:
    db: rtk_db.Database
    meetings: Meetings
    presets: Presets
    participants: Participants
    tokens: FakeTokens
    events: FakeEvents
    seeder: PresetSeeder


@pytest.fixture
async def meeting_db(database_url: str):
    await rtk_db.migrate(database_url, SCHEMA, MIGRATIONS_DIR)
    pool = await rtk_db.create_pool(database_url, schema=SCHEMA, min_size=1, max_size=5)
    database = rtk_db.Database(pool)
    yield database
    await database.close()


@pytest.fixture
async def domain(meeting_db: rtk_db.Database) -> Domain:
    events = FakeEvents()
    tokens = FakeTokens()
    seeder = PresetSeeder(meeting_db, events)
    return Domain(
        db=meeting_db,
        meetings=Meetings(meeting_db, seeder, events),
        presets=Presets(meeting_db, seeder, events),
        participants=Participants(meeting_db, seeder, events, tokens),
        tokens=tokens,
        events=events,
        seeder=seeder,
    )


@pytest.fixture
def app_id() -> str:
    return f"app-{uuid.uuid4().hex[:12]}"
