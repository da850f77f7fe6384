"""Request bodies of the meeting routes (reference §4.2). Unknown keys are ignored (as
RealtimeKit does); types, enum values and lengths are strict. Limits repeat the meeting
service's (rtk_meeting.domain.limits), which stays the authority for gRPC callers."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints
from realtime.meeting.v1 import meeting_pb2
from rtkit.wire import enum_values


def wire_enum(enum_descriptor: Any) -> Any:
    """A Literal of an enum's REST spellings (kept in step with the proto)."""
    return Literal[tuple(enum_values(enum_descriptor))]  # type: ignore[valid-type]


def Text(max_length: int, min_length: int = 0) -> Any:  # noqa: N802 - reads like a type
    return Annotated[str, StringConstraints(max_length=max_length, min_length=min_length)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


_E = meeting_pb2.DESCRIPTOR.enum_types_by_name


class WatermarkSizeBody(Strict):
    width: Annotated[int, Field(ge=1, le=1920)] | None = None
    height: Annotated[int, Field(ge=1, le=1920)] | None = None


class WatermarkBody(Strict):
    url: Text(2048) | None = None
    size: WatermarkSizeBody | None = None
    position: wire_enum(_E["WatermarkPosition"]) | None = None


class VideoConfigBody(Strict):
    codec: wire_enum(_E["VideoCodec"]) | None = None
    width: Annotated[int, Field(ge=1, le=1920)] | None = None
    height: Annotated[int, Field(ge=1, le=1920)] | None = None
    export_file: bool | None = None
    watermark: WatermarkBody | None = None


class AudioConfigBody(Strict):
    codec: wire_enum(_E["AudioCodec"]) | None = None
    channel: wire_enum(_E["AudioChannel"]) | None = None
    export_file: bool | None = None


class StorageConfigBody(Strict):
    type: wire_enum(_E["StorageType"])
    access_key: Text(16384) | None = None
    secret: Text(16384) | None = None
    bucket: Text(255) | None = None
    region: Text(255) | None = None
    path: Text(2048) | None = None
    auth_method: wire_enum(_E["SftpAuthMethod"]) | None = None
    username: Text(255) | None = None
    password: Text(16384) | None = None
    host: Text(255) | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    private_key: Text(16384) | None = None


class BucketConfigBody(Strict):
    enabled: bool


class LiveStreamingConfigBody(Strict):
    rtmp_url: Text(2048) | None = None


class RecordingConfigBody(Strict):
    max_seconds: Annotated[int, Field(ge=60, le=86_400)] | None = None
    file_name_prefix: Text(256) | None = None
    video_config: VideoConfigBody | None = None
    audio_config: AudioConfigBody | None = None
    storage_config: StorageConfigBody | None = None
    realtimekit_bucket_config: BucketConfigBody | None = Field(
        default=None, validation_alias=AliasChoices("realtimekit_bucket_config", "dyte_bucket_config")
    )
    live_streaming_config: LiveStreamingConfigBody | None = None


class TranscriptionConfigBody(Strict):
    keywords: Annotated[list[Text(100, 1)], Field(max_length=100)] | None = None
    language: wire_enum(_E["TranscriptionLanguage"]) | None = None
    profanity_filter: bool | None = None


class SummarizationConfigBody(Strict):
    word_limit: Annotated[int, Field(ge=150, le=1000)] | None = None
    text_format: wire_enum(_E["SummaryTextFormat"]) | None = None
    summary_type: wire_enum(_E["SummaryType"]) | None = None


class AiConfigBody(Strict):
    transcription: TranscriptionConfigBody | None = None
    summarization: SummarizationConfigBody | None = None


class MeetingBody(Strict):
    """POST /meetings and PUT /meetings/{id}: every field optional."""

    title: Text(1024) | None = None
    record_on_start: bool | None = None
    live_stream_on_start: bool | None = None
    persist_chat: bool | None = None
    summarize_on_end: bool | None = None
    transcribe_on_end: bool | None = None
    session_keep_alive_time_in_secs: Annotated[int, Field(ge=0, le=600)] | None = None
    recording_config: RecordingConfigBody | None = None
    ai_config: AiConfigBody | None = None


class MeetingPatchBody(MeetingBody):
    """PATCH /meetings/{id}: the same fields plus status."""

    status: wire_enum(_E["MeetingStatus"]) | None = None
