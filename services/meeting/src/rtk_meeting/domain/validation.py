"""Domain invariants of meetings, presets and participants.

Every check records a (field path, description) violation; `Checker.done()` raises one
INVALID_FIELD ApiError listing all of them (google.rpc.BadRequest on the wire). The same rules
apply whichever transport the request came through.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from realtime.meeting.v1 import meeting_pb2, participant_pb2, preset_pb2
from rtkit.errors import ApiError

from rtk_meeting.domain import limits as L


class Checker:
    """Collects field violations; raises them all at once."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.violations: list[tuple[str, str]] = []

    def add(self, field: str, description: str) -> None:
        self.violations.append((f"{self.prefix}{field}", description))

    def text(self, field: str, value: str, max_len: int, *, required: bool = False) -> None:
        if required and not value.strip():
            self.add(field, "is required")
        elif len(value) > max_len:
            self.add(field, f"must be at most {max_len} characters")
        elif "\x00" in value:
            self.add(field, "must not contain NUL characters")

    def int_range(self, field: str, value: int, lo: int, hi: int) -> None:
        if not lo <= value <= hi:
            self.add(field, f"must be between {lo} and {hi}")

    def enum(self, field: str, message: Message, name: str, *, required: bool) -> None:
        enum_desc = message.DESCRIPTOR.fields_by_name[name].enum_type
        value = getattr(message, name)
        if value == 0:
            if required:
                self.add(field, f"is required (one of {_enum_names(enum_desc)})")
        elif value not in enum_desc.values_by_number:
            self.add(field, f"must be one of {_enum_names(enum_desc)}")

    def message(self, field: str, parent: Message, name: str) -> bool:
        """Required sub-message; returns whether it is present."""
        if not parent.HasField(name):
            self.add(field, "is required")
            return False
        return True

    def done(self) -> None:
        if self.violations:
            first_field, first_desc = self.violations[0]
            more = f" (and {len(self.violations) - 1} more)" if len(self.violations) > 1 else ""
            raise ApiError(
                "INVALID_FIELD",
                f"{first_field}: {first_desc}{more}",
                field_violations=self.violations,
                field=first_field,
            )


def _enum_names(enum_desc: Any) -> str:
    from rtkit.wire import enum_values

    return ", ".join(enum_values(enum_desc))


def require_uuid(field: str, value: str, not_found: ApiError) -> str:
    """Ids are UUIDs; a malformed id cannot name an existing resource, so it is 'not found'."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise not_found from None


# ---------------------------------------------------------------------------------------------
# meetings


def check_meeting(meeting: meeting_pb2.Meeting, c: Checker | None = None) -> None:
    c = c or Checker()
    if meeting.HasField("title"):
        c.text("title", meeting.title, L.MEETING_TITLE_MAX)
    c.enum("status", meeting, "status", required=False)
    if meeting.HasField("session_keep_alive_time_in_secs"):
        c.int_range(
            "session_keep_alive_time_in_secs",
            meeting.session_keep_alive_time_in_secs,
            L.SESSION_KEEP_ALIVE_MIN,
            L.SESSION_KEEP_ALIVE_MAX,
        )
    if meeting.HasField("recording_config"):
        _check_recording_config(meeting.recording_config, c)
    if meeting.HasField("ai_config"):
        _check_ai_config(meeting.ai_config, c)
    c.done()


def _check_recording_config(rc: meeting_pb2.RecordingConfig, c: Checker) -> None:
    p = "recording_config."
    if rc.HasField("max_seconds"):
        c.int_range(p + "max_seconds", rc.max_seconds, L.RECORDING_MAX_SECONDS_MIN, L.RECORDING_MAX_SECONDS_MAX)
    c.text(p + "file_name_prefix", rc.file_name_prefix, L.FILE_NAME_PREFIX_MAX)
    if "/" in rc.file_name_prefix or "\\" in rc.file_name_prefix:
        c.add(p + "file_name_prefix", "must not contain path separators")
    if rc.HasField("video_config"):
        v = rc.video_config
        c.enum(p + "video_config.codec", v, "codec", required=False)
        for name in ("width", "height"):
            value = getattr(v, name)
            if value != 0:
                c.int_range(f"{p}video_config.{name}", value, 1, L.VIDEO_DIMENSION_MAX)
        if v.HasField("watermark"):
            w = v.watermark
            c.text(p + "video_config.watermark.url", w.url, L.URL_MAX)
            if w.url and not w.url.startswith(("http://", "https://")):
                c.add(p + "video_config.watermark.url", "must be an http(s) URL")
            c.enum(p + "video_config.watermark.position", w, "position", required=False)
            if w.HasField("size"):
                for name in ("width", "height"):
                    value = getattr(w.size, name)
                    if value != 0:
                        c.int_range(f"{p}video_config.watermark.size.{name}", value, 1, L.VIDEO_DIMENSION_MAX)
    if rc.HasField("audio_config"):
        c.enum(p + "audio_config.codec", rc.audio_config, "codec", required=False)
        c.enum(p + "audio_config.channel", rc.audio_config, "channel", required=False)
    if rc.HasField("storage_config"):
        s = rc.storage_config
        q = p + "storage_config."
        c.enum(q + "type", s, "type", required=True)
        c.enum(q + "auth_method", s, "auth_method", required=False)
        for name in ("bucket", "region", "path", "username", "host"):
            c.text(q + name, getattr(s, name), L.SHORT_TEXT_MAX if name != "path" else L.URL_MAX)
        for name in ("access_key", "secret", "password", "private_key"):
            c.text(q + name, getattr(s, name), L.SECRET_MAX)
        if s.port:
            c.int_range(q + "port", s.port, 1, 65535)
        if s.type == meeting_pb2.STORAGE_TYPE_SFTP:
            if not s.host:
                c.add(q + "host", "is required for sftp storage")
            if s.auth_method == meeting_pb2.SFTP_AUTH_METHOD_KEY and not s.private_key:
                c.add(q + "private_key", "is required when auth_method is KEY")
            if s.auth_method == meeting_pb2.SFTP_AUTH_METHOD_PASSWORD and not s.password:
                c.add(q + "password", "is required when auth_method is PASSWORD")
        elif s.type in (meeting_pb2.STORAGE_TYPE_AWS, meeting_pb2.STORAGE_TYPE_AZURE, meeting_pb2.STORAGE_TYPE_DIGITALOCEAN):
            if not s.bucket:
                c.add(q + "bucket", "is required")
        elif s.type == meeting_pb2.STORAGE_TYPE_GCS and not s.bucket:
            c.add(q + "bucket", "is required")
    if rc.HasField("live_streaming_config"):
        url = rc.live_streaming_config.rtmp_url
        c.text(p + "live_streaming_config.rtmp_url", url, L.URL_MAX)
        if url and not url.startswith(("rtmp://", "rtmps://")):
            c.add(p + "live_streaming_config.rtmp_url", "must be an rtmp:// or rtmps:// URL")


def _check_ai_config(ai: meeting_pb2.AiConfig, c: Checker) -> None:
    if ai.HasField("transcription"):
        t = ai.transcription
        if len(t.keywords) > L.KEYWORDS_MAX:
            c.add("ai_config.transcription.keywords", f"must have at most {L.KEYWORDS_MAX} items")
        for i, kw in enumerate(t.keywords):
            c.text(f"ai_config.transcription.keywords[{i}]", kw, L.KEYWORD_LEN_MAX, required=True)
        c.enum("ai_config.transcription.language", t, "language", required=False)
    if ai.HasField("summarization"):
        s = ai.summarization
        if s.word_limit != 0:
            c.int_range("ai_config.summarization.word_limit", s.word_limit, L.WORD_LIMIT_MIN, L.WORD_LIMIT_MAX)
        c.enum("ai_config.summarization.text_format", s, "text_format", required=False)
        c.enum("ai_config.summarization.summary_type", s, "summary_type", required=False)


# ---------------------------------------------------------------------------------------------
# presets


def check_preset_name(name: str, c: Checker) -> None:
    if not name.strip():
        c.add("name", "is required")
    elif len(name) > L.PRESET_NAME_MAX:
        c.add("name", f"must be at most {L.PRESET_NAME_MAX} characters")
    elif not L.PRESET_NAME_RE.match(name) or name != name.strip():
        c.add("name", "may contain only letters, digits, '_', '-', '.' and inner spaces")


def check_preset(preset: preset_pb2.Preset) -> None:
    """A complete preset (create, replace, and the result of a partial update)."""
    c = Checker()
    check_preset_name(preset.name, c)
    if c.message("config", preset, "config"):
        _check_config(preset.config, c)
    if c.message("permissions", preset, "permissions"):
        _check_permissions(preset.permissions, c)
    if c.message("ui", preset, "ui"):
        _check_ui(preset.ui, c)
    c.done()


def _check_config(cfg: preset_pb2.PresetConfig, c: Checker) -> None:
    p = "config."
    c.enum(p + "view_type", cfg, "view_type", required=True)
    if c.message(p + "max_video_streams", cfg, "max_video_streams"):
        c.int_range(p + "max_video_streams.mobile", cfg.max_video_streams.mobile, 0, L.MAX_VIDEO_STREAMS_MAX)
        c.int_range(p + "max_video_streams.desktop", cfg.max_video_streams.desktop, 0, L.MAX_VIDEO_STREAMS_MAX)
    c.int_range(p + "max_screenshare_count", cfg.max_screenshare_count, 0, L.MAX_SCREENSHARE_MAX)
    if len(cfg.livestream_viewer_qualities) > L.VIEWER_QUALITIES_MAX:
        c.add(p + "livestream_viewer_qualities", f"must have at most {L.VIEWER_QUALITIES_MAX} items")
    for i, q in enumerate(cfg.livestream_viewer_qualities):
        c.int_range(f"{p}livestream_viewer_qualities[{i}]", q, 1, L.VIEWER_QUALITY_MAX)
    if c.message(p + "media", cfg, "media"):
        m = cfg.media
        if c.message(p + "media.video", m, "video"):
            c.enum(p + "media.video.quality", m.video, "quality", required=True)
            c.int_range(p + "media.video.frame_rate", m.video.frame_rate, L.FRAME_RATE_MIN, L.FRAME_RATE_MAX)
        if c.message(p + "media.screenshare", m, "screenshare"):
            c.enum(p + "media.screenshare.quality", m.screenshare, "quality", required=True)
            c.int_range(
                p + "media.screenshare.frame_rate", m.screenshare.frame_rate, L.FRAME_RATE_MIN, L.FRAME_RATE_MAX
            )


def _check_permissions(perm: preset_pb2.PresetPermissions, c: Checker) -> None:
    p = "permissions."
    c.enum(p + "stage_access", perm, "stage_access", required=False)
    c.enum(p + "recorder_type", perm, "recorder_type", required=False)
    c.enum(p + "waiting_room_type", perm, "waiting_room_type", required=True)
    if c.message(p + "media", perm, "media"):
        for kind in ("audio", "video", "screenshare"):
            if c.message(f"{p}media.{kind}", perm.media, kind):
                c.enum(f"{p}media.{kind}.can_produce", getattr(perm.media, kind), "can_produce", required=True)
    if c.message(p + "chat", perm, "chat"):
        c.message(p + "chat.public", perm.chat, "public")
        c.message(p + "chat.private", perm.chat, "private")
    c.message(p + "polls", perm, "polls")
    c.message(p + "connected_meetings", perm, "connected_meetings")
    if c.message(p + "plugins", perm, "plugins"):
        plugins = perm.plugins
        if len(plugins.config) > L.PLUGIN_CONFIGS_MAX:
            c.add(p + "plugins.config", f"must have at most {L.PLUGIN_CONFIGS_MAX} entries")
        for plugin_id, pc in plugins.config.items():
            if not plugin_id or len(plugin_id) > L.PLUGIN_ID_MAX:
                c.add(f"{p}plugins.config", f"keys must be 1 … {L.PLUGIN_ID_MAX} characters")
            c.enum(f"{p}plugins.config.{plugin_id}.access_control", pc, "access_control", required=True)
    if perm.recorder_type in (preset_pb2.RECORDER_TYPE_RECORDER, preset_pb2.RECORDER_TYPE_LIVESTREAMER) and not perm.is_recorder:
        c.add(p + "is_recorder", "must be true when recorder_type is RECORDER or LIVESTREAMER")


def _check_ui(ui: preset_pb2.PresetUi, c: Checker) -> None:
    p = "ui.design_tokens."
    if c.message("ui.design_tokens", ui, "design_tokens"):
        t = ui.design_tokens
        c.enum(p + "border_radius", t, "border_radius", required=True)
        c.enum(p + "border_width", t, "border_width", required=True)
        c.enum(p + "theme", t, "theme", required=True)
        c.int_range(p + "spacing_base", t.spacing_base, L.SPACING_BASE_MIN, L.SPACING_BASE_MAX)
        if t.HasField("logo"):
            c.text(p + "logo", t.logo, L.URL_MAX)
        if t.HasField("font_family"):
            c.text(p + "font_family", t.font_family, L.FONT_MAX)
        if t.HasField("google_font"):
            c.text(p + "google_font", t.google_font, L.FONT_MAX)
        if c.message(p + "colors", t, "colors"):
            colors = t.colors
            for map_name, keys in (("brand", L.BRAND_KEYS), ("background", L.BACKGROUND_KEYS)):
                shades = getattr(colors, map_name)
                if set(shades) != set(keys):
                    c.add(f"{p}colors.{map_name}", f"must have exactly the keys {', '.join(keys)}")
                for key, value in shades.items():
                    if not L.COLOR_RE.match(value):
                        c.add(f"{p}colors.{map_name}.{key}", "must be a hex colour like #1a2b3c")
            for name in ("danger", "text", "text_on_brand", "success", "video_bg", "warning"):
                value = getattr(colors, name)
                if not value:
                    c.add(f"{p}colors.{name}", "is required")
                elif not L.COLOR_RE.match(value):
                    c.add(f"{p}colors.{name}", "must be a hex colour like #1a2b3c")
    if ui.HasField("config_diff"):
        size = len(json.dumps(json_format.MessageToDict(ui.config_diff)))
        if size > L.CONFIG_DIFF_MAX_BYTES:
            c.add("ui.config_diff", f"must be at most {L.CONFIG_DIFF_MAX_BYTES} bytes of JSON")


# ---------------------------------------------------------------------------------------------
# participants


def check_participant(p: participant_pb2.Participant, *, fields: set[str] | None = None) -> None:
    """`fields` limits the check to the fields being written (partial update)."""
    c = Checker()

    def want(name: str) -> bool:
        return fields is None or name in fields

    if want("custom_participant_id"):
        c.text("custom_participant_id", p.custom_participant_id, L.CUSTOM_PARTICIPANT_ID_MAX, required=True)
    if want("preset_name"):
        if not p.preset_name.strip():
            c.add("preset_name", "is required")
        elif len(p.preset_name) > L.PRESET_NAME_MAX:
            c.add("preset_name", f"must be at most {L.PRESET_NAME_MAX} characters")
    if want("name") and p.HasField("name"):
        c.text("name", p.name, L.PARTICIPANT_NAME_MAX)
    if want("picture") and p.HasField("picture"):
        c.text("picture", p.picture, L.PICTURE_MAX)
        if p.picture and not p.picture.startswith(("http://", "https://", "data:image/")):
            c.add("picture", "must be an http(s) URL")
    c.done()
