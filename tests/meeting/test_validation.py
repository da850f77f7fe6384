"""Unit tests of the meeting service's pure domain rules (no database)."""

from __future__ import annotations

import pytest
from google.protobuf import field_mask_pb2
from realtime.meeting.v1 import meeting_pb2, participant_pb2, preset_pb2
from rtk_meeting.domain import masks, paging
from rtk_meeting.domain.defaults import (
    DEFAULT_PRESET_NAMES,
    apply_meeting_defaults,
    apply_preset_defaults,
    default_presets,
    redact_meeting,
)
from rtk_meeting.domain.validation import check_meeting, check_participant, check_preset
from rtkit.errors import ApiError

M, P = meeting_pb2, preset_pb2


def violations(fn, *args, **kwargs) -> list[str]:
    with pytest.raises(ApiError) as err:
        fn(*args, **kwargs)
    assert err.value.reason == "INVALID_FIELD"
    assert err.value.grpc_code.name == "INVALID_ARGUMENT" and err.value.http_status == 400
    return [f for f, _ in err.value.field_violations]


def test_every_default_preset_is_valid_and_complete():
    names = set()
    for preset in default_presets():
        check_preset(preset)
        before = preset.SerializeToString(deterministic=True)
        apply_preset_defaults(preset)
        assert preset.SerializeToString(deterministic=True) == before, preset.name  # nothing left to derive
        names.add(preset.name)
    assert names == set(DEFAULT_PRESET_NAMES)
    recorder = next(p for p in default_presets() if p.name == "recorder_preset_v2")
    assert recorder.permissions.is_recorder and recorder.permissions.hidden_participant


def test_all_violations_are_reported_at_once():
    preset = default_presets()[0]
    preset.name = ""
    preset.config.view_type = 0
    preset.ui.design_tokens.colors.danger = "#zzz"
    assert violations(check_preset, preset) == ["name", "config.view_type", "ui.design_tokens.colors.danger"]


def test_recorder_type_requires_is_recorder():
    preset = default_presets()[0]
    preset.permissions.recorder_type = P.RECORDER_TYPE_RECORDER
    assert "permissions.is_recorder" in violations(check_preset, preset)


def test_stage_access_is_derived_from_media_permissions():
    preset = default_presets()[3]  # webinar_viewer
    preset.permissions.stage_access = 0
    apply_preset_defaults(preset)
    assert preset.permissions.stage_access == P.STAGE_ACCESS_CAN_REQUEST
    preset.permissions.stage_access = 0
    for kind in ("audio", "video"):
        getattr(preset.permissions.media, kind).can_produce = P.PRODUCE_PERMISSION_NOT_ALLOWED
    apply_preset_defaults(preset)
    assert preset.permissions.stage_access == P.STAGE_ACCESS_NOT_ALLOWED


@pytest.mark.parametrize("value,ok", [(0, True), (60, True), (600, True), (601, False), (-5, False)])
def test_session_keep_alive_range(value, ok):
    meeting = M.Meeting(session_keep_alive_time_in_secs=value)
    if ok:
        check_meeting(meeting)
    else:
        assert violations(check_meeting, meeting) == ["session_keep_alive_time_in_secs"]


@pytest.mark.parametrize("value,ok", [(59, False), (60, True), (86_400, True), (86_401, False)])
def test_recording_max_seconds_range(value, ok):
    meeting = M.Meeting(recording_config=M.RecordingConfig(max_seconds=value))
    if ok:
        check_meeting(meeting)
    else:
        assert violations(check_meeting, meeting) == ["recording_config.max_seconds"]


def test_sftp_storage_needs_credentials_for_its_method():
    storage = M.StorageConfig(type=M.STORAGE_TYPE_SFTP, host="h", auth_method=M.SFTP_AUTH_METHOD_KEY)
    assert violations(check_meeting, M.Meeting(recording_config=M.RecordingConfig(storage_config=storage))) == [
        "recording_config.storage_config.private_key"]


def test_meeting_defaults_and_redaction():
    meeting = M.Meeting(recording_config=M.RecordingConfig(
        storage_config=M.StorageConfig(type=M.STORAGE_TYPE_SFTP, host="h", password="pw")))
    apply_meeting_defaults(meeting)
    assert meeting.status == M.MEETING_STATUS_ACTIVE
    assert meeting.session_keep_alive_time_in_secs == 60
    assert meeting.recording_config.storage_config.port == 22
    assert meeting.ai_config.summarization.summary_type == M.SUMMARY_TYPE_GENERAL
    public = redact_meeting(meeting, listing=True)
    assert public.recording_config.storage_config.password == ""
    assert not public.HasField("ai_config")
    assert meeting.recording_config.storage_config.password == "pw"  # the original is untouched


def test_participant_checks_only_written_fields():
    assert violations(check_participant, participant_pb2.Participant()) == ["custom_participant_id", "preset_name"]
    check_participant(participant_pb2.Participant(name="x"), fields={"name"})
    assert violations(check_participant, participant_pb2.Participant(picture="ftp://x"), fields={"picture"}) == [
        "picture"]


def test_paging_tokens_round_trip_and_are_bound_to_filters():
    first = paging.page(2, 0, "", "q")
    assert (first.offset, first.limit) == (0, 2)
    token = first.next_token(2, 5)
    second = paging.page(2, 0, token, "q")
    assert second.offset == 2
    assert second.next_token(2, 5) and paging.page(2, 0, second.next_token(2, 5), "q").next_token(1, 5) == ""
    assert paging.page(0, 0, "").limit == 20
    assert paging.page(5000, 0, "").limit == 100
    for args in ((2, 0, token, "other"), (2, 0, "%%%"), (-1, 0, ""), (1, -1, "")):
        with pytest.raises(ApiError):
            paging.page(*args)


def test_masks_merge_nested_replace_maps_and_clear_absent():
    dest = default_presets()[0]
    src = P.Preset(ui=P.PresetUi(design_tokens=P.DesignTokens(colors=P.DesignColors(brand={"300": "#000"}))))
    touched = masks.apply(field_mask_pb2.FieldMask(paths=["ui.design_tokens.colors.brand", "config.view_type"]),
                          src, dest, allowed_roots=frozenset({"ui", "config"}))
    assert touched == {"ui", "config"}
    assert dict(dest.ui.design_tokens.colors.brand) == {"300": "#000"}
    assert dest.ui.design_tokens.colors.danger == "#FF2D2D"
    assert dest.config.view_type == 0
    with pytest.raises(ApiError):
        masks.apply(field_mask_pb2.FieldMask(paths=["ui.design_tokens.colors.brand.300"]), src, dest,
                    allowed_roots=frozenset({"ui"}))
    with pytest.raises(ApiError):
        masks.apply(field_mask_pb2.FieldMask(paths=["id"]), src, dest, allowed_roots=frozenset({"ui"}))
