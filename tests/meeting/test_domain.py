"""Meeting-service domain against real Postgres (fakes only for the auth RPCs and the bus)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from google.protobuf import field_mask_pb2, timestamp_pb2
from realtime.meeting.v1 import (
    meeting_pb2,
    meeting_service_pb2,
    participant_pb2,
    preset_pb2,
    preset_service_pb2,
)
from rtk_meeting.domain.defaults import DEFAULT_PRESET_NAMES, default_presets
from rtk_meeting.domain.seeding import PresetSeeder
from rtkit.errors import ApiError

M, P = meeting_pb2, preset_pb2


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def test_meeting_create_applies_defaults_and_publishes(domain, app_id):
    created = await domain.meetings.create(app_id, M.Meeting(title="Standup"))
    assert uuid.UUID(created.id)
    assert created.app_id == app_id
    assert created.status == M.MEETING_STATUS_ACTIVE
    assert created.session_keep_alive_time_in_secs == 60
    assert created.ai_config.transcription.language == M.TRANSCRIPTION_LANGUAGE_EN_US
    assert created.ai_config.summarization.word_limit == 500
    assert not created.HasField("recording_config")
    assert created.create_time == created.update_time
    assert "meeting_created" in (await domain.events.names())
    assert (await domain.meetings.get(app_id, created.id)) == created


async def test_meeting_secrets_are_stored_but_never_returned(domain, app_id):
    m = M.Meeting(recording_config=M.RecordingConfig(
        max_seconds=120,
        storage_config=M.StorageConfig(type=M.STORAGE_TYPE_AWS, access_key="AK", secret="SK", bucket="b",
                                       region="us-east-1"),
    ))
    created = await domain.meetings.create(app_id, m)
    sc = created.recording_config.storage_config
    assert (sc.bucket, sc.access_key, sc.secret) == ("b", "", "")
    assert created.recording_config.video_config.codec == M.VIDEO_CODEC_H264
    assert created.recording_config.audio_config.channel == M.AUDIO_CHANNEL_STEREO
    # A partial update of another storage field keeps the stored secrets.
    patch = M.Meeting(recording_config=M.RecordingConfig(storage_config=M.StorageConfig(bucket="b2")))
    await domain.meetings.update(app_id, created.id, patch, mask("recording_config.storage_config.bucket"))
    raw = await domain.db.fetchval("SELECT recording_config->'storage_config'->>'secret' FROM meetings WHERE id = $1",
                                   uuid.UUID(created.id))
    assert raw == "SK"
    for event in (await domain.events.read()):
        if event.payload_field.startswith("meeting_"):
            assert event.payload.meeting.recording_config.storage_config.secret == ""


async def test_meeting_update_with_mask_and_replace(domain, app_id):
    created = await domain.meetings.create(app_id, M.Meeting(title="a", record_on_start=True))
    updated = await domain.meetings.update(
        app_id, created.id, M.Meeting(status=M.MEETING_STATUS_INACTIVE, title="ignored"), mask("status")
    )
    assert updated.status == M.MEETING_STATUS_INACTIVE
    assert updated.title == "a" and updated.record_on_start
    assert updated.update_time.ToDatetime() > created.update_time.ToDatetime()
    changed = (await domain.events.read())[-1].payload.changed_fields
    assert list(changed) == ["status"]
    # Clearing a field: path present, value unset.
    cleared = await domain.meetings.update(app_id, created.id, M.Meeting(), mask("title"))
    assert not cleared.HasField("title")
    # Replace resets everything not given to defaults but keeps id, status default ACTIVE.
    replaced = await domain.meetings.replace(app_id, created.id, M.Meeting(title="b"))
    assert replaced.id == created.id and replaced.title == "b"
    assert not replaced.record_on_start
    assert replaced.status == M.MEETING_STATUS_ACTIVE
    assert replaced.create_time == created.create_time


@pytest.mark.parametrize("meeting,field", [
    (M.Meeting(title="x" * 1025), "title"),
    (M.Meeting(session_keep_alive_time_in_secs=601), "session_keep_alive_time_in_secs"),
    (M.Meeting(session_keep_alive_time_in_secs=-1), "session_keep_alive_time_in_secs"),
    (M.Meeting(status=99), "status"),
    (M.Meeting(recording_config=M.RecordingConfig(max_seconds=59)), "recording_config.max_seconds"),
    (M.Meeting(recording_config=M.RecordingConfig(max_seconds=86_401)), "recording_config.max_seconds"),
    (M.Meeting(recording_config=M.RecordingConfig(storage_config=M.StorageConfig(bucket="b"))),
     "recording_config.storage_config.type"),
    (M.Meeting(ai_config=M.AiConfig(summarization=M.SummarizationConfig(word_limit=100))),
     "ai_config.summarization.word_limit"),
])
async def test_meeting_invalid_fields(domain, app_id, meeting, field):
    with pytest.raises(ApiError) as err:
        await domain.meetings.create(app_id, meeting)
    assert err.value.reason == "INVALID_FIELD"
    assert err.value.field_violations[0][0] == field


async def test_meeting_update_rejects_bad_masks(domain, app_id):
    created = await domain.meetings.create(app_id, M.Meeting())
    for paths in ([], ["id"], ["create_time"], ["nope"], ["title.x"]):
        with pytest.raises(ApiError) as err:
            await domain.meetings.update(app_id, created.id, M.Meeting(), mask(*paths))
        assert err.value.reason == "INVALID_FIELD", paths
    with pytest.raises(ApiError) as err:
        await domain.meetings.update(app_id, created.id, M.Meeting(), mask("status"))
    assert err.value.field_violations[0][0] == "status"


async def test_meeting_not_found_for_other_app_and_bad_ids(domain, app_id):
    created = await domain.meetings.create(app_id, M.Meeting())
    for other_app, meeting_id in (("other-app", created.id), (app_id, "not-a-uuid"), (app_id, str(uuid.uuid4()))):
        with pytest.raises(ApiError) as err:
            await domain.meetings.get(other_app, meeting_id)
        assert err.value.reason == "MEETING_NOT_FOUND"


async def test_meeting_list_paging_search_and_filters(domain, app_id):
    for i in range(7):
        await domain.meetings.create(app_id, M.Meeting(title=f"Weekly {i}" if i % 2 else f"Daily_{i}"))
    await domain.meetings.create("someone-else", M.Meeting(title="Weekly x"))
    req = meeting_service_pb2.ListMeetingsRequest(app_id=app_id, page_size=3)
    items, token, total = await domain.meetings.list(app_id, req)
    assert total == 7 and len(items) == 3 and token
    titles = [m.title for m in items]
    seen = list(titles)
    while token:
        req = meeting_service_pb2.ListMeetingsRequest(app_id=app_id, page_size=3, page_token=token)
        items, token, total = await domain.meetings.list(app_id, req)
        seen += [m.title for m in items]
    assert len(seen) == 7 and len(set(seen)) == 7
    assert seen[0] == "Daily_6"  # newest first
    assert all(not m.HasField("ai_config") for m in items)

    items, _, total = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(search="weekly"))
    assert total == 3 and all("Weekly" in m.title for m in items)
    # LIKE wildcards are literal.
    _, _, total = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(search="_"))
    assert total == 4
    one = items[0]
    found, _, total = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(search=one.id))
    assert total == 1 and found[0].id == one.id

    await domain.meetings.update(app_id, one.id, M.Meeting(status=M.MEETING_STATUS_INACTIVE), mask("status"))
    _, _, total = await domain.meetings.list(
        app_id, meeting_service_pb2.ListMeetingsRequest(status=M.MEETING_STATUS_INACTIVE))
    assert total == 1
    future = timestamp_pb2.Timestamp(seconds=4_000_000_000)
    _, _, total = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(start_time=future))
    assert total == 0
    _, _, total = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(end_time=future))
    assert total == 7
    # skip (offset) past the end: empty page, true total.
    items, token, total = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(skip=50))
    assert (items, token, total) == ([], "", 7)
    # Oversized pages are coerced; tokens are bound to their filters.
    items, _, _ = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(page_size=10_000))
    assert len(items) == 7
    _, token, _ = await domain.meetings.list(app_id, meeting_service_pb2.ListMeetingsRequest(page_size=1))
    for bad in (meeting_service_pb2.ListMeetingsRequest(page_token=token, search="x"),
                meeting_service_pb2.ListMeetingsRequest(page_token="garbage!"),
                meeting_service_pb2.ListMeetingsRequest(page_size=-1)):
        with pytest.raises(ApiError) as err:
            await domain.meetings.list(app_id, bad)
        assert err.value.reason == "INVALID_FIELD"


# presets ----------------------------------------------------------------------------------


async def test_default_presets_seeded_once_and_valid(domain, app_id):
    from rtk_meeting.domain.validation import check_preset

    for preset in default_presets():
        check_preset(preset)
    items, _, total = await domain.presets.list(app_id, preset_service_pb2.ListPresetsRequest(page_size=100))
    assert {p.name for p in items} == set(DEFAULT_PRESET_NAMES)
    assert {"group_call_host", "group_call_participant", "webinar_presenter", "webinar_viewer",
            "recorder_preset_v2"} <= set(DEFAULT_PRESET_NAMES)
    recorder = await domain.presets.get_by_name(app_id, "recorder_preset_v2")
    assert recorder.permissions.is_recorder and recorder.permissions.hidden_participant
    assert recorder.permissions.recorder_type == P.RECORDER_TYPE_RECORDER
    viewer = await domain.presets.get_by_name(app_id, "webinar_viewer")
    assert viewer.config.view_type == P.VIEW_TYPE_WEBINAR
    assert viewer.permissions.stage_access == P.STAGE_ACCESS_CAN_REQUEST
    assert viewer.permissions.media.video.can_produce == P.PRODUCE_PERMISSION_CAN_REQUEST

    # A deleted default stays deleted, even for a fresh process (new seeder, same database).
    deleted = await domain.presets.delete(app_id, viewer.id)
    assert deleted.name == "webinar_viewer"
    fresh = PresetSeeder(domain.db, domain.events)
    await fresh.ensure(app_id)
    _, _, total_after = await domain.presets.list(app_id, preset_service_pb2.ListPresetsRequest())
    assert total_after == total - 1


async def test_concurrent_first_touch_seeds_exactly_once(domain, meeting_db, app_id):
    seeders = [PresetSeeder(meeting_db, domain.events) for _ in range(5)]
    await asyncio.gather(*(s.ensure(app_id) for s in seeders))
    count = await meeting_db.fetchval("SELECT count(*) FROM presets WHERE app_id = $1", app_id)
    assert count == len(DEFAULT_PRESET_NAMES)


def sample_preset(name: str = "custom") -> P.Preset:
    base = default_presets()[0]
    base.name = name
    return base


async def test_preset_crud_and_name_uniqueness(domain, app_id):
    created = await domain.presets.create(app_id, sample_preset("host_v2"))
    assert created.permissions.stage_access == P.STAGE_ACCESS_ALLOWED
    assert (await domain.presets.get(app_id, created.id)) == created
    with pytest.raises(ApiError) as err:
        await domain.presets.create(app_id, sample_preset("host_v2"))
    assert err.value.reason == "PRESET_NAME_TAKEN"
    with pytest.raises(ApiError) as err:
        await domain.presets.create(app_id, sample_preset("group_call_host"))
    assert err.value.reason == "PRESET_NAME_TAKEN"
    # Same name in another app is fine.
    await domain.presets.create("other-app", sample_preset("host_v2"))

    patch = P.Preset(config=P.PresetConfig(max_video_streams=P.MaxVideoStreams(desktop=16)),
                     ui=P.PresetUi(design_tokens=P.DesignTokens(theme=P.THEME_LIGHT)))
    updated = await domain.presets.update(app_id, created.id, patch,
                                          mask("config.max_video_streams.desktop", "ui.design_tokens.theme"))
    assert updated.config.max_video_streams.desktop == 16
    assert updated.config.max_video_streams.mobile == created.config.max_video_streams.mobile
    assert updated.ui.design_tokens.theme == P.THEME_LIGHT
    assert updated.ui.design_tokens.colors == created.ui.design_tokens.colors
    with pytest.raises(ApiError) as err:
        await domain.presets.update(app_id, created.id, P.Preset(name="group_call_host"), mask("name"))
    assert err.value.reason == "PRESET_NAME_TAKEN"
    with pytest.raises(ApiError) as err:
        await domain.presets.update(app_id, created.id, P.Preset(), mask("config.view_type"))
    assert err.value.field_violations[0][0] == "config.view_type"

    replaced = await domain.presets.replace(app_id, created.id, sample_preset("renamed"))
    assert replaced.name == "renamed" and replaced.id == created.id
    deleted = await domain.presets.delete(app_id, created.id)
    assert deleted.name == "renamed"
    with pytest.raises(ApiError) as err:
        await domain.presets.get(app_id, created.id)
    assert err.value.reason == "PRESET_NOT_FOUND"
    names = (await domain.events.names())
    assert {"preset_created", "preset_updated", "preset_deleted"} <= set(names)


@pytest.mark.parametrize("mutate,field", [
    (lambda p: setattr(p, "name", ""), "name"),
    (lambda p: setattr(p, "name", "bad/name"), "name"),
    (lambda p: p.ClearField("config"), "config"),
    (lambda p: setattr(p.config, "view_type", 0), "config.view_type"),
    (lambda p: setattr(p.config.media.video, "frame_rate", 0), "config.media.video.frame_rate"),
    (lambda p: setattr(p.config.media.video, "quality", 42), "config.media.video.quality"),
    (lambda p: setattr(p.permissions, "waiting_room_type", 0), "permissions.waiting_room_type"),
    (lambda p: p.permissions.media.ClearField("audio"), "permissions.media.audio"),
    (lambda p: p.ui.design_tokens.colors.brand.pop("500"), "ui.design_tokens.colors.brand"),
    (lambda p: p.ui.design_tokens.colors.background.__setitem__("600", "red"),
     "ui.design_tokens.colors.background.600"),
    (lambda p: setattr(p.ui.design_tokens, "spacing_base", 0), "ui.design_tokens.spacing_base"),
    (lambda p: p.permissions.plugins.config["x"].SetInParent(), "permissions.plugins.config.x.access_control"),
])
async def test_preset_invalid_fields(domain, app_id, mutate, field):
    preset = sample_preset()
    mutate(preset)
    with pytest.raises(ApiError) as err:
        await domain.presets.create(app_id, preset)
    assert err.value.reason == "INVALID_FIELD"
    assert field in [f for f, _ in err.value.field_violations]


# participants -----------------------------------------------------------------------------


async def test_participant_lifecycle_tokens_and_events(domain, app_id):
    meeting = await domain.meetings.create(app_id, M.Meeting(title="m"))
    added, token = await domain.participants.add(
        app_id, meeting.id,
        participant_pb2.Participant(custom_participant_id="u1", preset_name="group_call_host", name="Ada"),
    )
    assert token == "jwt.t1"
    host = await domain.presets.get_by_name(app_id, "group_call_host")
    assert (added.preset_id, added.preset_name, added.meeting_id) == (host.id, "group_call_host", meeting.id)
    assert domain.tokens.issued[0]["preset_id"] == host.id
    assert (await domain.participants.get(app_id, meeting.id, added.id)) == added

    _, token2 = await domain.participants.update(
        app_id, meeting.id, added.id,
        participant_pb2.Participant(preset_name="group_call_participant", name="Ada L."),
        mask("preset_name", "name"),
    )
    updated = await domain.participants.get(app_id, meeting.id, added.id)
    assert updated.preset_name == "group_call_participant" and updated.name == "Ada L."
    assert domain.tokens.valid(added.id) == [token2.removeprefix("jwt.")]
    changed = (await domain.events.read())[-1].payload.changed_fields
    assert set(changed) == {"name", "preset_name"}

    refreshed = await domain.participants.refresh_token(app_id, meeting.id, added.id)
    assert len(domain.tokens.valid(added.id)) == 2 and refreshed != token2

    # An empty mask only rotates the token.
    same, token3 = await domain.participants.update(app_id, meeting.id, added.id, participant_pb2.Participant(),
                                                    mask())
    assert same.name == "Ada L." and domain.tokens.valid(added.id) == [token3.removeprefix("jwt.")]

    # The preset is in use now.
    participant_preset = await domain.presets.get_by_name(app_id, "group_call_participant")
    with pytest.raises(ApiError) as err:
        await domain.presets.delete(app_id, participant_preset.id)
    assert err.value.reason == "PRESET_IN_USE"

    deleted = await domain.participants.delete(app_id, meeting.id, added.id)
    assert deleted.id == added.id
    assert domain.tokens.valid(added.id) == []
    with pytest.raises(ApiError) as err:
        await domain.participants.get(app_id, meeting.id, added.id)
    assert err.value.reason == "PARTICIPANT_NOT_FOUND"
    assert [e for e in (await domain.events.names()) if e.startswith("participant_")] == [
        "participant_added", "participant_updated", "participant_updated", "participant_deleted"]
    assert (await domain.events.read())[-1].subject_tail == f"meetings.{meeting.id}.participant_deleted"


async def test_participant_errors(domain, app_id):
    meeting = await domain.meetings.create(app_id, M.Meeting())
    ok = participant_pb2.Participant(custom_participant_id="u", preset_name="group_call_host")
    cases = [
        (app_id, str(uuid.uuid4()), ok, "MEETING_NOT_FOUND"),
        (app_id, "nope", ok, "MEETING_NOT_FOUND"),
        ("other-app", meeting.id, ok, "MEETING_NOT_FOUND"),
        (app_id, meeting.id, participant_pb2.Participant(custom_participant_id="u", preset_name="ghost"),
         "PRESET_NOT_FOUND"),
        (app_id, meeting.id, participant_pb2.Participant(preset_name="group_call_host"), "INVALID_FIELD"),
        (app_id, meeting.id, participant_pb2.Participant(custom_participant_id="u"), "INVALID_FIELD"),
        (app_id, meeting.id, participant_pb2.Participant(custom_participant_id="u", preset_name="group_call_host",
                                                         name="n" * 256), "INVALID_FIELD"),
    ]
    for app, mid, participant, reason in cases:
        with pytest.raises(ApiError) as err:
            await domain.participants.add(app, mid, participant)
        assert err.value.reason == reason, (mid, participant)
    # Token issuance failing rolls the participant back.
    domain.tokens.fail_next = True
    with pytest.raises(ApiError):
        await domain.participants.add(app_id, meeting.id, ok)
    _, _, total = await domain.participants.list(app_id, meeting.id, meeting_service_pb2.ListMeetingsRequest())
    assert total == 0
    for pid in ("not-a-uuid", str(uuid.uuid4())):
        with pytest.raises(ApiError) as err:
            await domain.participants.get(app_id, meeting.id, pid)
        assert err.value.reason == "PARTICIPANT_NOT_FOUND"


async def test_participant_listing(domain, app_id):
    meeting = await domain.meetings.create(app_id, M.Meeting())
    other = await domain.meetings.create(app_id, M.Meeting())
    for i in range(5):
        await domain.participants.add(app_id, meeting.id, participant_pb2.Participant(
            custom_participant_id=f"u{i}", preset_name="webinar_viewer"))
    await domain.participants.add(app_id, other.id, participant_pb2.Participant(
        custom_participant_id="x", preset_name="webinar_viewer"))
    from realtime.meeting.v1 import participant_service_pb2 as ps

    items, token, total = await domain.participants.list(app_id, meeting.id, ps.ListParticipantsRequest(page_size=2))
    assert total == 5 and [p.custom_participant_id for p in items] == ["u0", "u1"] and token
    items, _, _ = await domain.participants.list(app_id, meeting.id, ps.ListParticipantsRequest(page_token=token,
                                                                                              page_size=2))
    assert [p.custom_participant_id for p in items] == ["u2", "u3"]
    items, token, _ = await domain.participants.list(app_id, meeting.id, ps.ListParticipantsRequest(skip=4))
    assert [p.custom_participant_id for p in items] == ["u4"] and token == ""
