"""Request bodies of the preset routes (reference §4.4).

One set of models serves POST, PUT and PATCH: every nested field is optional here and the
meeting service reports a missing required field (e.g. `config.view_type`) as INVALID_FIELD
with its path. POST and PUT require the four top-level parts. Unknown keys are ignored; types,
enum values, colour formats and lengths are strict.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from realtime.meeting.v1 import preset_pb2

from rtk_gateway.rest.models.meetings import Strict, Text, wire_enum

_E = preset_pb2.DESCRIPTOR.enum_types_by_name
Color = Annotated[str, StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")]
PresetName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\- ]+$")]
Count = Annotated[int, Field(ge=0, le=100)]
FrameRate = Annotated[int, Field(ge=1, le=60)]
Quality = wire_enum(_E["VideoQuality"])
Produce = wire_enum(_E["ProducePermission"])


# config ---------------------------------------------------------------------------------------


class MaxVideoStreamsBody(Strict):
    mobile: Count | None = None
    desktop: Count | None = None


class VideoMediaBody(Strict):
    quality: Quality | None = None
    frame_rate: FrameRate | None = None
    simulcast: bool | None = None


class ScreenshareMediaBody(Strict):
    quality: Quality | None = None
    frame_rate: FrameRate | None = None


class AudioMediaBody(Strict):
    enable_stereo: bool | None = None
    enable_high_bitrate: bool | None = None


class MediaConfigBody(Strict):
    video: VideoMediaBody | None = None
    screenshare: ScreenshareMediaBody | None = None
    audio: AudioMediaBody | None = None


class PresetConfigBody(Strict):
    view_type: wire_enum(_E["ViewType"]) | None = None
    max_video_streams: MaxVideoStreamsBody | None = None
    max_screenshare_count: Count | None = None
    livestream_viewer_qualities: Annotated[list[Annotated[int, Field(ge=1, le=4320)]], Field(max_length=10)] | None = None
    media: MediaConfigBody | None = None


# permissions ----------------------------------------------------------------------------------


class ProduceBody(Strict):
    can_produce: Produce | None = None


class MediaPermissionsBody(Strict):
    audio: ProduceBody | None = None
    video: ProduceBody | None = None
    screenshare: ProduceBody | None = None


class PublicChatBody(Strict):
    can_send: bool | None = None
    text: bool | None = None
    files: bool | None = None


class PrivateChatBody(Strict):
    can_send: bool | None = None
    can_receive: bool | None = None
    text: bool | None = None
    files: bool | None = None


class ChatPermissionsBody(Strict):
    public: PublicChatBody | None = None
    private: PrivateChatBody | None = None


class PollPermissionsBody(Strict):
    can_create: bool | None = None
    can_vote: bool | None = None
    can_view: bool | None = None


class PluginConfigBody(Strict):
    access_control: wire_enum(_E["PluginAccessControl"]) | None = None
    handles_view_only: bool | None = None


class PluginPermissionsBody(Strict):
    can_start: bool | None = None
    can_close: bool | None = None
    can_edit_config: bool | None = None
    config: Annotated[dict[Text(100, 1), PluginConfigBody], Field(max_length=100)] | None = None


class ConnectedMeetingsBody(Strict):
    can_alter_connected_meetings: bool | None = None
    can_switch_connected_meetings: bool | None = None
    can_switch_to_parent_meeting: bool | None = None


class PresetPermissionsBody(Strict):
    accept_waiting_requests: bool | None = None
    can_accept_production_requests: bool | None = None
    accept_stage_requests: bool | None = None
    stage_enabled: bool | None = None
    stage_access: wire_enum(_E["StageAccess"]) | None = None
    can_edit_display_name: bool | None = None
    can_spotlight: bool | None = None
    can_record: bool | None = None
    can_livestream: bool | None = None
    can_change_participant_permissions: bool | None = None
    disable_participant_audio: bool | None = None
    disable_participant_video: bool | None = None
    disable_participant_screensharing: bool | None = None
    kick_participant: bool | None = None
    pin_participant: bool | None = None
    hidden_participant: bool | None = None
    show_participant_list: bool | None = None
    is_recorder: bool | None = None
    recorder_type: wire_enum(_E["RecorderType"]) | None = None
    transcription_enabled: bool | None = None
    waiting_room_type: wire_enum(_E["WaitingRoomType"]) | None = None
    media: MediaPermissionsBody | None = None
    chat: ChatPermissionsBody | None = None
    polls: PollPermissionsBody | None = None
    plugins: PluginPermissionsBody | None = None
    connected_meetings: ConnectedMeetingsBody | None = None


# ui -------------------------------------------------------------------------------------------


class ColorsBody(Strict):
    brand: dict[Literal["300", "400", "500", "600", "700"], Color] | None = None
    background: dict[Literal["600", "700", "800", "900", "1000"], Color] | None = None
    danger: Color | None = None
    text: Color | None = None
    text_on_brand: Color | None = None
    success: Color | None = None
    video_bg: Color | None = None
    warning: Color | None = None


class DesignTokensBody(Strict):
    border_radius: wire_enum(_E["BorderRadius"]) | None = None
    border_width: wire_enum(_E["BorderWidth"]) | None = None
    spacing_base: Annotated[int, Field(ge=1, le=64)] | None = None
    theme: wire_enum(_E["Theme"]) | None = None
    colors: ColorsBody | None = None
    logo: Text(2048) | None = None
    font_family: Text(200) | None = None
    google_font: Text(200) | None = None


class PresetUiBody(Strict):
    design_tokens: DesignTokensBody | None = None
    config_diff: dict[str, Any] | None = None


# top level ------------------------------------------------------------------------------------


class PresetPatchBody(Strict):
    """PATCH /presets/{id}: any subset; nested objects merge, maps and lists replace."""

    name: PresetName | None = None
    config: PresetConfigBody | None = None
    permissions: PresetPermissionsBody | None = None
    ui: PresetUiBody | None = None


class PresetBody(PresetPatchBody):
    """POST /presets and PUT /presets/{id}: name, config, permissions and ui are required."""

    name: PresetName
    config: PresetConfigBody
    permissions: PresetPermissionsBody
    ui: PresetUiBody
