"""Presets: CRUD with name uniqueness per app and protection of presets in use."""

from __future__ import annotations

import asyncpg
from google.protobuf import field_mask_pb2
from realtime.events.v1 import meeting_events_pb2
from realtime.meeting.v1 import preset_pb2
from rtkit.db import Database
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_meeting.domain import limits as L
from rtk_meeting.domain import masks, paging
from rtk_meeting.domain.defaults import apply_preset_defaults
from rtk_meeting.domain.ports import EventRecorder, PendingEvent
from rtk_meeting.domain.seeding import PresetSeeder
from rtk_meeting.domain.validation import Checker, check_preset, require_uuid
from rtk_meeting.store import presets as store

log = get_logger("rtk_meeting.presets")

OUTPUT_ONLY = ("id", "app_id", "create_time", "update_time")
MUTABLE = frozenset({"name", "config", "permissions", "ui"})


def not_found(preset_id: str = "", *, name: str = "") -> ApiError:
    if name:
        return ApiError("PRESET_NOT_FOUND", f"No preset named {name!r}.", presetName=name)
    return ApiError("PRESET_NOT_FOUND", f"No preset with id {preset_id}.", presetId=preset_id)


def name_taken(name: str) -> ApiError:
    return ApiError("PRESET_NAME_TAKEN", f"A preset named {name!r} already exists.", presetName=name)


def _input(preset: preset_pb2.Preset) -> preset_pb2.Preset:
    p = preset_pb2.Preset()
    p.CopyFrom(preset)
    for name in OUTPUT_ONLY:
        p.ClearField(name)
    return p


class Presets:
    def __init__(self, db: Database, seeder: PresetSeeder, events: EventRecorder) -> None:
        self._db = db
        self._seeder = seeder
        self._events = events

    async def create(self, app_id: str, preset: preset_pb2.Preset) -> preset_pb2.Preset:
        await self._seeder.ensure(app_id)
        p = _input(preset)
        check_preset(p)
        apply_preset_defaults(p)
        try:
            async with self._db.transaction() as conn:
                created = await store.insert(conn, app_id, p)
                assert created is not None
                await self._record(conn, app_id, created, "preset_created",
                                   meeting_events_pb2.PresetCreated(preset=created))
        except asyncpg.UniqueViolationError:
            raise name_taken(p.name) from None
        self._events.committed()
        log.info("preset_created", app_id=app_id, preset_id=created.id, preset_name=created.name)
        return created

    async def get(self, app_id: str, preset_id: str) -> preset_pb2.Preset:
        await self._seeder.ensure(app_id)
        pid = require_uuid("preset_id", preset_id, not_found(preset_id))
        async with self._db.pool.acquire() as conn:
            found = await store.get(conn, app_id, pid)
        if found is None:
            raise not_found(preset_id)
        return found

    async def get_by_name(self, app_id: str, name: str) -> preset_pb2.Preset:
        await self._seeder.ensure(app_id)
        if not name or len(name) > L.PRESET_NAME_MAX:
            raise not_found(name=name)
        async with self._db.pool.acquire() as conn:
            found = await store.get_by_name(conn, app_id, name)
        if found is None:
            raise not_found(name=name)
        return found

    async def list(self, app_id: str, request) -> tuple[list[preset_pb2.Preset], str, int]:
        await self._seeder.ensure(app_id)
        c = Checker()
        c.text("search", request.search, L.SEARCH_MAX)
        c.done()
        page = paging.page(request.page_size, request.skip, request.page_token, "presets", request.search)
        async with self._db.pool.acquire() as conn:
            items, total = await store.list_(conn, app_id, offset=page.offset, limit=page.limit,
                                             search=request.search)
        return items, page.next_token(len(items), total), total

    async def update(self, app_id: str, preset_id: str, patch: preset_pb2.Preset,
                     mask: field_mask_pb2.FieldMask) -> preset_pb2.Preset:
        await self._seeder.ensure(app_id)
        pid = require_uuid("preset_id", preset_id, not_found(preset_id))

        def merge(current: preset_pb2.Preset) -> preset_pb2.Preset:
            merged = preset_pb2.Preset()
            merged.CopyFrom(current)
            masks.apply(mask, _input(patch), merged, allowed_roots=MUTABLE)
            return merged

        return await self._write(app_id, pid, merge)

    async def replace(self, app_id: str, preset_id: str, preset: preset_pb2.Preset) -> preset_pb2.Preset:
        await self._seeder.ensure(app_id)
        pid = require_uuid("preset_id", preset_id, not_found(preset_id))
        p = _input(preset)
        check_preset(p)  # validate before touching the database
        return await self._write(app_id, pid, lambda _current: p)

    async def _write(self, app_id: str, preset_id: str, build) -> preset_pb2.Preset:
        try:
            async with self._db.transaction() as conn:
                current = await store.get(conn, app_id, preset_id, for_update=True)
                if current is None:
                    raise not_found(preset_id)
                new = build(current)
                check_preset(new)
                apply_preset_defaults(new)
                updated = await store.update(conn, app_id, preset_id, new)
                assert updated is not None
                await self._record(conn, app_id, updated, "preset_updated",
                                   meeting_events_pb2.PresetUpdated(preset=updated))
        except asyncpg.UniqueViolationError:
            raise name_taken(new.name) from None
        self._events.committed()
        log.info("preset_updated", app_id=app_id, preset_id=preset_id, preset_name=updated.name)
        return updated

    async def delete(self, app_id: str, preset_id: str) -> preset_pb2.Preset:
        await self._seeder.ensure(app_id)
        pid = require_uuid("preset_id", preset_id, not_found(preset_id))
        try:
            async with self._db.transaction() as conn:
                deleted = await store.delete(conn, app_id, pid)
                if deleted is not None:
                    await self._record(conn, app_id, deleted, "preset_deleted",
                                       meeting_events_pb2.PresetDeleted(preset=deleted))
        except asyncpg.ForeignKeyViolationError:
            raise ApiError(
                "PRESET_IN_USE",
                f"Preset {preset_id} is used by participants; delete them or move them to another preset first.",
                presetId=preset_id,
            ) from None
        if deleted is None:
            raise not_found(preset_id)
        self._events.committed()
        log.info("preset_deleted", app_id=app_id, preset_id=preset_id, preset_name=deleted.name)
        return deleted

    async def _record(self, conn, app_id: str, preset: preset_pb2.Preset, event: str, payload) -> None:
        await self._events.record(conn, [PendingEvent(app_id, "presets", preset.id, event, payload)])
