"""Fixtures for the meeting service's domain and store tests: a migrated `meeting` schema on a
fresh database, plus a small fake of the port that crosses a process boundary (the auth service's
token RPCs). Events go to the real outbox table and are read back from it."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass

import pytest
from google.protobuf.message import Message
from realtime.events.v1 import event_pb2
from rtk_meeting.adapters import OutboxEvents
from rtk_meeting.app import MIGRATIONS_DIR, SCHEMA
from rtk_meeting.domain.meetings import Meetings
from rtk_meeting.domain.participants import Participants
from rtk_meeting.domain.ports import IssuedToken, TokenRequest
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


class RecordedEvents(OutboxEvents):
    """The service's own event recorder (rows of meeting.outbox, written in the change's
    transaction), plus the committed events read back from the table: no relay runs here, so
    the rows stay, and a rolled-back change leaves none."""

    def __init__(self, db: rtk_db.Database) -> None:
        super().__init__()
        self._db = db

    async def read(self) -> list[RecordedEvent]:
        out = []
        for row in await self._db.pool.fetch("SELECT subject, payload FROM outbox ORDER BY id"):
            event = event_pb2.Event.FromString(bytes(row["payload"]))
            field = event.WhichOneof("payload")
            prefix = f"realtime.events.v1.apps.{event.app_id}."
            assert row["subject"].startswith(prefix)
            out.append(RecordedEvent(event.app_id, row["subject"][len(prefix):], field, getattr(event, field)))
        return out

    async def names(self) -> list[str]:
        return [e.payload_field for e in await self.read()]


@dataclass
class Domain:
    db: rtk_db.Database
    meetings: Meetings
    presets: Presets
    participants: Participants
    tokens: FakeTokens
    events: RecordedEvents
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
    events = RecordedEvents(meeting_db)
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
