"""Defaults: meeting fields left unset, derived preset fields, and the default presets of an app.

The default preset set is documented in docs/presets.md; keep the two in step.
"""

from __future__ import annotations

from typing import Any

from realtime.meeting.v1 import meeting_pb2, preset_pb2

from rtk_meeting.domain import limits as L

P = preset_pb2
M = meeting_pb2


# ---------------------------------------------------------------------------------------------
# meetings


def apply_meeting_defaults(meeting: meeting_pb2.Meeting) -> None:
    """Fill what RealtimeKit documents as defaults (reference §4.2, Dyte OpenAPI)."""
    if meeting.status == M.MEETING_STATUS_UNSPECIFIED:
        meeting.status = M.MEETING_STATUS_ACTIVE
    if not meeting.HasField("session_keep_alive_time_in_secs"):
        meeting.session_keep_alive_time_in_secs = L.SESSION_KEEP_ALIVE_DEFAULT
    if meeting.HasField("recording_config"):
        rc = meeting.recording_config
        video = rc.video_config
        if video.codec == M.VIDEO_CODEC_UNSPECIFIED:
            video.codec = M.VIDEO_CODEC_H264
        video.width = video.width or 1280
        video.height = video.height or 720
        if not video.HasField("export_file"):
            video.export_file = True
        if video.HasField("watermark") and video.watermark.position == M.WATERMARK_POSITION_UNSPECIFIED:
            video.watermark.position = M.WATERMARK_POSITION_LEFT_TOP
        audio = rc.audio_config
        if audio.codec == M.AUDIO_CODEC_UNSPECIFIED:
            audio.codec = M.AUDIO_CODEC_AAC
        if audio.channel == M.AUDIO_CHANNEL_UNSPECIFIED:
            audio.channel = M.AUDIO_CHANNEL_STEREO
        if not audio.HasField("export_file"):
            audio.export_file = True
        if rc.HasField("storage_config") and rc.storage_config.type == M.STORAGE_TYPE_SFTP:
            rc.storage_config.port = rc.storage_config.port or 22
    ai = meeting.ai_config
    t = ai.transcription
    if t.language == M.TRANSCRIPTION_LANGUAGE_UNSPECIFIED:
        t.language = M.TRANSCRIPTION_LANGUAGE_EN_US
    s = ai.summarization
    s.word_limit = s.word_limit or 500
    if s.text_format == M.SUMMARY_TEXT_FORMAT_UNSPECIFIED:
        s.text_format = M.SUMMARY_TEXT_FORMAT_MARKDOWN
    if s.summary_type == M.SUMMARY_TYPE_UNSPECIFIED:
        s.summary_type = M.SUMMARY_TYPE_GENERAL


SECRET_FIELDS = ("access_key", "secret", "password", "private_key")


def redact_meeting(meeting: meeting_pb2.Meeting, *, listing: bool = False) -> meeting_pb2.Meeting:
    """A copy without write-only secrets (and without ai_config in list items)."""
    out = meeting_pb2.Meeting()
    out.CopyFrom(meeting)
    if out.recording_config.HasField("storage_config"):
        for name in SECRET_FIELDS:
            out.recording_config.storage_config.ClearField(name)
    if listing:
        out.ClearField("ai_config")
    return out


# ---------------------------------------------------------------------------------------------
# presets


def apply_preset_defaults(preset: preset_pb2.Preset) -> None:
    """Fill optional preset fields with their documented or derived defaults."""
    perm = preset.permissions
    if perm.recorder_type == P.RECORDER_TYPE_UNSPECIFIED:
        perm.recorder_type = P.RECORDER_TYPE_NONE
    if perm.stage_access == P.STAGE_ACCESS_UNSPECIFIED:
        # ⚠ Not documented: derive from what the participant may publish.
        produce = {perm.media.audio.can_produce, perm.media.video.can_produce}
        if P.PRODUCE_PERMISSION_ALLOWED in produce:
            perm.stage_access = P.STAGE_ACCESS_ALLOWED
        elif P.PRODUCE_PERMISSION_CAN_REQUEST in produce:
            perm.stage_access = P.STAGE_ACCESS_CAN_REQUEST
        else:
            perm.stage_access = P.STAGE_ACCESS_NOT_ALLOWED
    preset.config.media.audio.SetInParent()


DEFAULT_UI: dict[str, Any] = {
    "border_radius": P.BORDER_RADIUS_ROUNDED,
    "border_width": P.BORDER_WIDTH_THIN,
    "spacing_base": 4,
    "theme": P.THEME_DARK,
    "brand": {"300": "#844d1c", "400": "#9d5b22", "500": "#b56927", "600": "#d37c30", "700": "#d9904f"},
    "background": {"600": "#222222", "700": "#1f1f1f", "800": "#1b1b1b", "900": "#181818", "1000": "#141414"},
    "danger": "#FF2D2D",
    "text": "#EEEEEE",
    "text_on_brand": "#EEEEEE",
    "success": "#62A504",
    "video_bg": "#191919",
    "warning": "#FFCD07",
}


def default_ui() -> preset_pb2.PresetUi:
    u = DEFAULT_UI
    colors = P.DesignColors(
        brand=u["brand"],
        background=u["background"],
        danger=u["danger"],
        text=u["text"],
        text_on_brand=u["text_on_brand"],
        success=u["success"],
        video_bg=u["video_bg"],
        warning=u["warning"],
    )
    tokens = P.DesignTokens(
        border_radius=u["border_radius"],
        border_width=u["border_width"],
        spacing_base=u["spacing_base"],
        theme=u["theme"],
        colors=colors,
        logo="",
    )
    return P.PresetUi(design_tokens=tokens)


_A, _N, _R = P.PRODUCE_PERMISSION_ALLOWED, P.PRODUCE_PERMISSION_NOT_ALLOWED, P.PRODUCE_PERMISSION_CAN_REQUEST


def _config(view_type: int, *, mobile: int, desktop: int, screenshares: int, video_quality: int = P.VIDEO_QUALITY_HD,
            frame_rate: int = 30, simulcast: bool = True, viewer_qualities: tuple[int, ...] = ()) -> P.PresetConfig:
    return P.PresetConfig(
        view_type=view_type,
        max_video_streams=P.MaxVideoStreams(mobile=mobile, desktop=desktop),
        max_screenshare_count=screenshares,
        livestream_viewer_qualities=list(viewer_qualities),
        media=P.MediaConfig(
            video=P.VideoMediaConfig(quality=video_quality, frame_rate=frame_rate, simulcast=simulcast),
            screenshare=P.ScreenshareMediaConfig(quality=P.VIDEO_QUALITY_HD, frame_rate=5),
            audio=P.AudioMediaConfig(enable_stereo=False, enable_high_bitrate=False),
        ),
    )


def _permissions(*, host: bool, audio: int, video: int, screenshare: int, stage_enabled: bool = False,
                 stage_access: int = P.STAGE_ACCESS_ALLOWED, hidden: bool = False, recorder: bool = False,
                 chat: bool = True, waiting_room: int = P.WAITING_ROOM_TYPE_SKIP) -> P.PresetPermissions:
    return P.PresetPermissions(
        accept_waiting_requests=host,
        can_accept_production_requests=host,
        accept_stage_requests=host and stage_enabled,
        stage_enabled=stage_enabled,
        stage_access=stage_access,
        can_edit_display_name=not recorder,
        can_spotlight=host,
        can_record=host,
        can_livestream=host,
        can_change_participant_permissions=host,
        disable_participant_audio=host,
        disable_participant_video=host,
        disable_participant_screensharing=host,
        kick_participant=host,
        pin_participant=host,
        hidden_participant=hidden,
        show_participant_list=not recorder,
        is_recorder=recorder,
        recorder_type=P.RECORDER_TYPE_RECORDER if recorder else P.RECORDER_TYPE_NONE,
        transcription_enabled=False,
        waiting_room_type=waiting_room,
        media=P.MediaPermissions(
            audio=P.MediaProducePermission(can_produce=audio),
            video=P.MediaProducePermission(can_produce=video),
            screenshare=P.MediaProducePermission(can_produce=screenshare),
        ),
        chat=P.ChatPermissions(
            public=P.PublicChatPermissions(can_send=chat, text=chat, files=chat),
            private=P.PrivateChatPermissions(can_send=chat, can_receive=chat, text=chat, files=chat),
        ),
        polls=P.PollPermissions(can_create=host, can_vote=not recorder, can_view=not recorder),
        plugins=P.PluginPermissions(can_start=host, can_close=host, can_edit_config=host),
        connected_meetings=P.ConnectedMeetingsPermissions(
            can_alter_connected_meetings=host,
            can_switch_connected_meetings=host,
            can_switch_to_parent_meeting=not recorder,
        ),
    )


def default_presets() -> list[preset_pb2.Preset]:
    """The presets every app starts with (docs/presets.md)."""
    group = _config(P.VIEW_TYPE_GROUP_CALL, mobile=4, desktop=9, screenshares=1)
    webinar = _config(P.VIEW_TYPE_WEBINAR, mobile=4, desktop=9, screenshares=1)
    live = _config(P.VIEW_TYPE_LIVESTREAM, mobile=4, desktop=9, screenshares=1, viewer_qualities=(360, 720, 1080))
    audio_room = _config(P.VIEW_TYPE_AUDIO_ROOM, mobile=0, desktop=0, screenshares=0, video_quality=P.VIDEO_QUALITY_VGA,
                         frame_rate=15, simulcast=False)
    items: list[tuple[str, P.PresetConfig, P.PresetPermissions]] = [
        ("group_call_host", group, _permissions(host=True, audio=_A, video=_A, screenshare=_A)),
        ("group_call_participant", group, _permissions(host=False, audio=_A, video=_A, screenshare=_A)),
        ("webinar_presenter", webinar, _permissions(host=True, audio=_A, video=_A, screenshare=_A, stage_enabled=True)),
        ("webinar_viewer", webinar, _permissions(host=False, audio=_R, video=_R, screenshare=_N, stage_enabled=True,
                                                 stage_access=P.STAGE_ACCESS_CAN_REQUEST)),
        ("livestream_host", live, _permissions(host=True, audio=_A, video=_A, screenshare=_A, stage_enabled=True)),
        ("livestream_viewer", live, _permissions(host=False, audio=_R, video=_R, screenshare=_N, stage_enabled=True,
                                                 stage_access=P.STAGE_ACCESS_CAN_REQUEST)),
        ("audio_room_host", audio_room, _permissions(host=True, audio=_A, video=_N, screenshare=_N, stage_enabled=True)),
        ("audio_room_listener", audio_room, _permissions(host=False, audio=_R, video=_N, screenshare=_N,
                                                         stage_enabled=True, stage_access=P.STAGE_ACCESS_CAN_REQUEST)),
        ("recorder_preset_v2", group, _permissions(host=False, audio=_N, video=_N, screenshare=_N, hidden=True,
                                                   recorder=True, chat=False, stage_access=P.STAGE_ACCESS_NOT_ALLOWED)),
    ]
    presets = []
    for name, config, permissions in items:
        presets.append(P.Preset(name=name, config=config, permissions=permissions, ui=default_ui()))
    return presets


DEFAULT_PRESET_NAMES = tuple(p.name for p in default_presets())
