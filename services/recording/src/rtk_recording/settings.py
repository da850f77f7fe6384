"""Recording service settings (`RTK_*` environment variables, see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field
from rtkit.config import ServiceSettings


class RecordingSettings(ServiceSettings):
    """Settings of `python -m rtk_recording` (API and recorder in one process)."""

    service_name: str = Field(default="recording", description="Name used in logs, traces and metrics.")
    grpc_port: int = Field(default=50055, description="gRPC port (peers use RTK_RECORDING_ADDR).")
    data_dir: str = Field(default=".rtk", description="Base directory for local data (RTK_DATA_DIR).")
    recording_storage: str = Field(
        default="local", description="Where finished files go: local (a directory or mounted volume) or s3."
    )
    recording_storage_dir: str = Field(
        default="", description="Local storage directory; empty means $RTK_DATA_DIR/recordings."
    )
    recording_work_dir: str = Field(
        default="", description="Scratch directory for files being written; empty means <storage dir>/.work."
    )
    recording_s3_endpoint: str = Field(default="", description="S3-compatible endpoint URL, e.g. http://minio:9000.")
    recording_s3_bucket: str = Field(default="", description="S3 bucket of the built-in storage.")
    recording_s3_region: str = Field(default="us-east-1", description="S3 region (SigV4 scope).")
    recording_s3_access_key: str = Field(default="", description="S3 access key id.")
    recording_s3_secret_key: str = Field(default="", description="S3 secret access key.")
    recording_s3_prefix: str = Field(default="recordings", description="Key prefix inside the bucket.")
    recording_max_concurrent: int = Field(
        default=4, ge=0, description="Recordings this process runs at once; 0 makes it an API-only replica."
    )
    recording_heartbeat_seconds: float = Field(
        default=2.0, gt=0, description="How often a recorder reports its load (recording.recorders)."
    )
    recording_lease_seconds: float = Field(
        default=10.0, gt=0, description="A recorder silent this long is dead: its recordings become ERRORED."
    )
    recording_sweep_seconds: float = Field(default=5.0, gt=0, description="How often dead recorders are swept.")
    recording_download_ttl_seconds: int = Field(
        default=7 * 24 * 3600, gt=0, description="Lifetime of download links (RealtimeKit: 7 days)."
    )
    recording_signing_key: str = Field(
        default="", description="HMAC key of download links; empty derives one from RTK_INTERNAL_TOKEN."
    )
    recording_default_max_seconds: int = Field(
        default=86400, ge=60, le=86400, description="max_seconds when neither the request nor the meeting sets it."
    )
    recording_alone_seconds: float = Field(
        default=5.0, ge=0, description="Stop (ALL_PEERS_LEFT) after the recorder was alone this long."
    )
    recording_join_timeout_seconds: float = Field(
        default=20.0, gt=0, description="A recorder that cannot join within this time errors the recording."
    )
    recording_recorder_preset: str = Field(
        default="recorder_preset_v2", description="Preset of the recorder bot participant."
    )
    recording_composite_fps: int = Field(default=15, ge=1, le=60, description="Frame rate of composite recordings.")
    recording_x264_preset: str = Field(default="superfast", description="libx264 preset of H.264 composites.")
    recording_session_events_durable: str = Field(
        default="recording-session-events",
        description="Durable JetStream consumer of session_started / session_ended.",
    )
    recording_outbox_poll_seconds: float = Field(
        default=0.5, gt=0, description="How often the event outbox is drained when nothing woke it."
    )
