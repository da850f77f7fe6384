"""Participants: who may join a meeting with which preset, and their tokens."""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import field_mask_pb2
from realtime.events.v1 import meeting_events_pb2
from realtime.meeting.v1 import participant_pb2
from rtkit.db import Database
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_meeting.domain import masks, paging
from rtk_meeting.domain.meetings import meeting_uuid
from rtk_meeting.domain.meetings import not_found as meeting_not_found
from rtk_meeting.domain.ports import EventRecorder, PendingEvent, TokenIssuer, TokenRequest
from rtk_meeting.domain.presets import not_found as preset_not_found
from rtk_meeting.domain.seeding import PresetSeeder
from rtk_meeting.domain.validation import check_participant, require_uuid
from rtk_meeting.store import meetings as meeting_store
from rtk_meeting.store import participants as store
from rtk_meeting.store import presets as preset_store

log = get_logger("rtk_meeting.participants")

OUTPUT_ONLY = ("id", "app_id", "meeting_id", "preset_id", "create_time", "update_time")
MUTABLE = frozenset({"name", "picture", "preset_name", "custom_participant_id"})
MAX_BATCH = 100  # items of one BatchAddParticipants call


def not_found(participant_id: str) -> ApiError:
    return ApiError("PARTICIPANT_NOT_FOUND", f"No participant with id {participant_id}.",
                    participantId=participant_id)


def _input(participant: participant_pb2.Participant) -> participant_pb2.Participant:
    p = participant_pb2.Participant()
    p.CopyFrom(participant)
    for name in OUTPUT_ONLY:
        p.ClearField(name)
    return p


class Participants:
    def __init__(self, db: Database, seeder: PresetSeeder, events: EventRecorder, tokens: TokenIssuer) -> None:
        self._db = db
        self._seeder = seeder
        self._events = events
        self._tokens = tokens

    def _ids(self, meeting_id: str, participant_id: str | None = None) -> tuple[str, str]:
        mid = meeting_uuid(meeting_id)
        pid = ""
        if participant_id is not None:
            pid = require_uuid("participant_id", participant_id, not_found(participant_id))
        return mid, pid

    async def _require_meeting(self, conn, app_id: str, meeting_id: str, raw_id: str) -> None:
        if not await meeting_store.exists(conn, app_id, meeting_id):
            raise meeting_not_found(raw_id)

    async def _preset_id(self, conn, app_id: str, name: str) -> str:
        preset_id = await preset_store.id_for_name(conn, app_id, name)
        if preset_id is None:
            raise preset_not_found(name=name)
        return preset_id

    async def add(self, app_id: str, meeting_id: str, participant: participant_pb2.Participant
                  ) -> tuple[participant_pb2.Participant, str]:
        (outcome,) = await self.add_many(app_id, meeting_id, [participant])
        if isinstance(outcome, ApiError):
            raise outcome
        return outcome

    async def add_many(self, app_id: str, meeting_id: str, participants: Sequence[participant_pb2.Participant]
                       ) -> list[tuple[participant_pb2.Participant, str] | ApiError]:
        """Add participants to one meeting, each with its first token; one outcome per input.

        An item fails alone (invalid field, unknown preset). A failure that is not the item's own
        (meeting not found, auth service down) raises and adds nobody: the rows are inserted and
        the tokens issued in one transaction, so a failed token call commits nothing.
        """
        if not 1 <= len(participants) <= MAX_BATCH:
            raise ApiError("INVALID_FIELD", f"participants: between 1 and {MAX_BATCH} items.",
                           field_violations=[("participants", f"between 1 and {MAX_BATCH} items")])
        await self._seeder.ensure(app_id)
        mid, _ = self._ids(meeting_id)
        outcomes: list[tuple[participant_pb2.Participant, str] | ApiError | None] = []
        valid: list[participant_pb2.Participant] = []
        for participant in participants:
            p = _input(participant)
            try:
                check_participant(p)
            except ApiError as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
                valid.append(p)
        if not valid:
            return outcomes  # type: ignore[return-value]
        async with self._db.transaction() as conn:
            created = await store.insert_many_resolving(conn, app_id, mid, valid)
            if not any(created):  # tell the caller which of the two is missing
                await self._require_meeting(conn, app_id, mid, meeting_id)
            added = [c for c in created if c is not None]
            # Issued inside the transaction: if the auth service fails, nothing is committed.
            issued = await self._tokens.issue_many([
                TokenRequest(app_id=app_id, meeting_id=mid, participant_id=c.id, preset_id=c.preset_id)
                for c in added
            ]) if added else []
            await self._events.record(conn, [
                PendingEvent(app_id, "meetings", c.meeting_id, "participant_added",
                             meeting_events_pb2.ParticipantAdded(participant=c))
                for c in added
            ])
        if added:
            self._events.committed()
        tokens = {c.id: t.token for c, t in zip(added, issued, strict=True)}
        results = iter(created)
        for i, outcome in enumerate(outcomes):
            if outcome is None:
                c = next(results)
                outcomes[i] = ((c, tokens[c.id]) if c is not None
                               else preset_not_found(name=participants[i].preset_name))
        for c in added:
            log.info("participant_added", app_id=app_id, meeting_id=mid, participant_id=c.id,
                     preset_name=c.preset_name)
        return outcomes  # type: ignore[return-value]

    async def get(self, app_id: str, meeting_id: str, participant_id: str) -> participant_pb2.Participant:
        await self._seeder.ensure(app_id)
        mid, pid = self._ids(meeting_id, participant_id)
        async with self._db.pool.acquire() as conn:
            found = await store.get(conn, app_id, mid, pid)
            if found is None:
                await self._require_meeting(conn, app_id, mid, meeting_id)
                raise not_found(participant_id)
        return found

    async def list(self, app_id: str, meeting_id: str, request) -> tuple[list[participant_pb2.Participant], str, int]:
        await self._seeder.ensure(app_id)
        mid, _ = self._ids(meeting_id)
        page = paging.page(request.page_size, request.skip, request.page_token, "participants", mid)
        async with self._db.pool.acquire() as conn:
            await self._require_meeting(conn, app_id, mid, meeting_id)
            items, total = await store.list_(conn, app_id, mid, offset=page.offset, limit=page.limit)
        return items, page.next_token(len(items), total), total

    async def update(self, app_id: str, meeting_id: str, participant_id: str, patch: participant_pb2.Participant,
                     mask: field_mask_pb2.FieldMask) -> tuple[participant_pb2.Participant, str]:
        await self._seeder.ensure(app_id)
        mid, pid = self._ids(meeting_id, participant_id)
        async with self._db.transaction() as conn:
            current = await store.get(conn, app_id, mid, pid, for_update=True)
            if current is None:
                await self._require_meeting(conn, app_id, mid, meeting_id)
                raise not_found(participant_id)
            merged = participant_pb2.Participant()
            merged.CopyFrom(current)
            # An empty mask changes nothing but still rotates the token.
            touched = masks.apply(mask, _input(patch), merged, allowed_roots=MUTABLE) if mask.paths else set()
            check_participant(merged, fields=touched)
            preset_id = current.preset_id
            if merged.preset_name != current.preset_name:
                preset_id = await self._preset_id(conn, app_id, merged.preset_name)
            updated = await store.update(conn, app_id, mid, pid, preset_id, merged)
            assert updated is not None
            issued = await self._tokens.issue(app_id=app_id, meeting_id=mid, participant_id=pid, preset_id=preset_id)
            await self._tokens.revoke(app_id=app_id, participant_id=pid, except_token_id=issued.token_id)
            changed = [name for name in sorted(MUTABLE) if _value(current, name) != _value(updated, name)]
            await self._record(conn, app_id, updated, "participant_updated",
                               meeting_events_pb2.ParticipantUpdated(participant=updated, changed_fields=changed))
        self._events.committed()
        log.info("participant_updated", app_id=app_id, meeting_id=mid, participant_id=pid, changed=changed)
        return updated, issued.token

    async def delete(self, app_id: str, meeting_id: str, participant_id: str) -> participant_pb2.Participant:
        await self._seeder.ensure(app_id)
        mid, pid = self._ids(meeting_id, participant_id)
        async with self._db.transaction() as conn:
            deleted = await store.delete(conn, app_id, mid, pid)
            if deleted is None:
                await self._require_meeting(conn, app_id, mid, meeting_id)
                raise not_found(participant_id)
            await self._tokens.revoke(app_id=app_id, participant_id=pid)
            await self._record(conn, app_id, deleted, "participant_deleted",
                               meeting_events_pb2.ParticipantDeleted(participant=deleted))
        self._events.committed()
        log.info("participant_deleted", app_id=app_id, meeting_id=mid, participant_id=pid)
        return deleted

    async def refresh_token(self, app_id: str, meeting_id: str, participant_id: str) -> str:
        found = await self.get(app_id, meeting_id, participant_id)
        issued = await self._tokens.issue(app_id=app_id, meeting_id=found.meeting_id, participant_id=found.id,
                                          preset_id=found.preset_id)
        log.info("participant_token_refreshed", app_id=app_id, meeting_id=found.meeting_id, participant_id=found.id)
        return issued.token

    async def _record(self, conn, app_id: str, participant: participant_pb2.Participant, event: str,
                      payload) -> None:
        await self._events.record(conn, [
            PendingEvent(app_id, "meetings", participant.meeting_id, event, payload)
        ])


def _value(message: participant_pb2.Participant, name: str) -> object:
    field = message.DESCRIPTOR.fields_by_name[name]
    if field.has_presence and not message.HasField(name):
        return None
    return getattr(message, name)
