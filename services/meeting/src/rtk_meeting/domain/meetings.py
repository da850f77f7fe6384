"""Meetings: create, read, list, partial update, replace."""

from __future__ import annotations

from google.protobuf import field_mask_pb2
from realtime.events.v1 import meeting_events_pb2
from realtime.meeting.v1 import meeting_pb2
from rtkit.db import Database
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_meeting.domain import limits as L
from rtk_meeting.domain import masks, paging
from rtk_meeting.domain.defaults import apply_meeting_defaults, redact_meeting
from rtk_meeting.domain.ports import EventRecorder, PendingEvent
from rtk_meeting.domain.seeding import PresetSeeder
from rtk_meeting.domain.validation import Checker, check_meeting, require_uuid
from rtk_meeting.store import from_ts
from rtk_meeting.store import meetings as store

log = get_logger("rtk_meeting.meetings")

OUTPUT_ONLY = ("id", "app_id", "create_time", "update_time")
MUTABLE = frozenset(
    f.name for f in meeting_pb2.Meeting.DESCRIPTOR.fields if f.name not in OUTPUT_ONLY
)


def not_found(meeting_id: str) -> ApiError:
    return ApiError("MEETING_NOT_FOUND", f"No meeting with id {meeting_id}.", meetingId=meeting_id)


def meeting_uuid(meeting_id: str) -> str:
    return require_uuid("meeting_id", meeting_id, not_found(meeting_id))


def _input(meeting: meeting_pb2.Meeting) -> meeting_pb2.Meeting:
    m = meeting_pb2.Meeting()
    m.CopyFrom(meeting)
    for name in OUTPUT_ONLY:
        m.ClearField(name)
    return m


class Meetings:
    def __init__(self, db: Database, seeder: PresetSeeder, events: EventRecorder) -> None:
        self._db = db
        self._seeder = seeder
        self._events = events

    async def create(self, app_id: str, meeting: meeting_pb2.Meeting) -> meeting_pb2.Meeting:
        await self._seeder.ensure(app_id)
        m = _input(meeting)
        check_meeting(m)
        apply_meeting_defaults(m)
        async with self._db.transaction() as conn:
            created = await store.insert(conn, app_id, m)
            public = redact_meeting(created)
            await self._record(conn, app_id, public, "meeting_created", meeting_events_pb2.MeetingCreated(meeting=public))
        self._events.committed()
        log.info("meeting_created", app_id=app_id, meeting_id=created.id)
        return public

    async def get(self, app_id: str, meeting_id: str) -> meeting_pb2.Meeting:
        await self._seeder.ensure(app_id)
        mid = meeting_uuid(meeting_id)
        async with self._db.pool.acquire() as conn:
            found = await store.get(conn, app_id, mid)
        if found is None:
            raise not_found(meeting_id)
        return redact_meeting(found)

    async def list(self, app_id: str, request) -> tuple[list[meeting_pb2.Meeting], str, int]:
        await self._seeder.ensure(app_id)
        c = Checker()
        c.text("search", request.search, L.SEARCH_MAX)
        c.enum("status", request, "status", required=False)
        c.done()
        start = from_ts(request.start_time) if request.HasField("start_time") else None
        end = from_ts(request.end_time) if request.HasField("end_time") else None
        page = paging.page(request.page_size, request.skip, request.page_token,
                           "meetings", request.search, request.status, start, end)
        async with self._db.pool.acquire() as conn:
            items, total = await store.list_(conn, app_id, offset=page.offset, limit=page.limit,
                                             search=request.search, status=request.status,
                                             start_time=start, end_time=end)
        return [redact_meeting(m, listing=True) for m in items], page.next_token(len(items), total), total

    async def update(self, app_id: str, meeting_id: str, patch: meeting_pb2.Meeting,
                     mask: field_mask_pb2.FieldMask) -> meeting_pb2.Meeting:
        await self._seeder.ensure(app_id)
        mid = meeting_uuid(meeting_id)
        async with self._db.transaction() as conn:
            current = await store.get(conn, app_id, mid, for_update=True)
            if current is None:
                raise not_found(meeting_id)
            merged = meeting_pb2.Meeting()
            merged.CopyFrom(current)
            masks.apply(mask, _input(patch), merged, allowed_roots=MUTABLE)
            if merged.status == meeting_pb2.MEETING_STATUS_UNSPECIFIED:
                c = Checker()
                c.add("status", "must be ACTIVE or INACTIVE")
                c.done()
            check_meeting(merged)
            apply_meeting_defaults(merged)
            updated = await store.update(conn, app_id, mid, merged)
            assert updated is not None
            public, changed = await self._changed(conn, app_id, current, updated)
        return self._committed(app_id, public, changed)

    async def replace(self, app_id: str, meeting_id: str, meeting: meeting_pb2.Meeting) -> meeting_pb2.Meeting:
        await self._seeder.ensure(app_id)
        mid = meeting_uuid(meeting_id)
        m = _input(meeting)
        check_meeting(m)
        apply_meeting_defaults(m)
        async with self._db.transaction() as conn:
            current = await store.get(conn, app_id, mid, for_update=True)
            if current is None:
                raise not_found(meeting_id)
            updated = await store.update(conn, app_id, mid, m)
            assert updated is not None
            public, changed = await self._changed(conn, app_id, current, updated)
        return self._committed(app_id, public, changed)

    async def _changed(self, conn, app_id: str, before: meeting_pb2.Meeting, after: meeting_pb2.Meeting
                       ) -> tuple[meeting_pb2.Meeting, list[str]]:
        """Inside the update's transaction: the redacted meeting and its changed fields, recorded
        as a `meeting_updated` event."""
        changed = [
            f.name for f in meeting_pb2.Meeting.DESCRIPTOR.fields
            if f.name in MUTABLE and _value(before, f.name) != _value(after, f.name)
        ]
        public = redact_meeting(after)
        await self._record(conn, app_id, public, "meeting_updated",
                           meeting_events_pb2.MeetingUpdated(meeting=public, changed_fields=changed))
        return public, changed

    def _committed(self, app_id: str, public: meeting_pb2.Meeting, changed: list[str]) -> meeting_pb2.Meeting:
        self._events.committed()
        log.info("meeting_updated", app_id=app_id, meeting_id=public.id, changed=changed)
        return public

    async def _record(self, conn, app_id: str, meeting: meeting_pb2.Meeting, event: str, payload) -> None:
        await self._events.record(conn, [PendingEvent(app_id, "meetings", meeting.id, event, payload)])


def _value(message: meeting_pb2.Meeting, name: str) -> object:
    field = message.DESCRIPTOR.fields_by_name[name]
    if field.has_presence and not message.HasField(name):
        return None
    return getattr(message, name)
