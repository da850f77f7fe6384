"""Lazy, idempotent creation of an app's default presets.

The first RPC that touches an app claims the app in meeting.app_seeds and inserts the default
presets in the same transaction (INSERT … ON CONFLICT DO NOTHING), so concurrent replicas seed
exactly once and a default preset the customer deleted is not re-created. Seeded apps are
remembered in-process so that the hot path costs nothing.
"""

from __future__ import annotations

import asyncio

from realtime.events.v1 import meeting_events_pb2
from rtkit.db import Database
from rtkit.logging import get_logger

from rtk_meeting.domain.defaults import apply_preset_defaults, default_presets
from rtk_meeting.domain.ports import EventRecorder, PendingEvent
from rtk_meeting.store import presets as preset_store

log = get_logger("rtk_meeting.seeding")


class PresetSeeder:
    def __init__(self, db: Database, events: EventRecorder, *, max_remembered: int = 100_000) -> None:
        self._db = db
        self._events = events
        self._seeded: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._max = max_remembered

    async def ensure(self, app_id: str) -> None:
        if app_id in self._seeded:
            return
        lock = self._locks.setdefault(app_id, asyncio.Lock())
        async with lock:
            if app_id in self._seeded:
                return
            created = []
            async with self._db.transaction() as conn:
                if await preset_store.claim_seed(conn, app_id):
                    for preset in default_presets():
                        apply_preset_defaults(preset)
                        row = await preset_store.insert(conn, app_id, preset, is_default=True, if_absent=True)
                        if row is not None:
                            created.append(row)
                    await self._events.record(conn, [
                        PendingEvent(app_id, "presets", preset.id, "preset_created",
                                     meeting_events_pb2.PresetCreated(preset=preset))
                        for preset in created
                    ])
            if created:
                self._events.committed()
            if len(self._seeded) >= self._max:
                self._seeded.clear()
            self._seeded.add(app_id)
            self._locks.pop(app_id, None)
        if created:
            log.info("default_presets_seeded", app_id=app_id, presets=[p.name for p in created])
