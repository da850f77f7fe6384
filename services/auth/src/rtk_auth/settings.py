"""Auth service settings (`RTK_*` environment variables, see docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field, SecretStr
from rtkit.config import ServiceSettings

HUNDRED_DAYS = 100 * 24 * 3600


class AuthSettings(ServiceSettings):
    """Settings of `python -m rtk_auth`."""

    service_name: str = Field(default="auth", description="Name used in logs, traces and metrics.")
    grpc_port: int = Field(default=50052, description="gRPC port (peers use RTK_AUTH_ADDR).")
    auth_participant_token_ttl_seconds: int = Field(
        default=HUNDRED_DAYS,
        gt=0,
        description="Default participant-token lifetime (exp - iat); RealtimeKit's tokens live 100 days.",
    )
    auth_participant_token_max_ttl_seconds: int = Field(
        default=366 * 24 * 3600, gt=0, description="Upper bound for a per-request ttl_seconds."
    )
    auth_key_encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "Fernet key(s) (urlsafe base64, 32 bytes; comma-separated, first one encrypts) that encrypt "
            "the RSA private keys at rest. Unset: private keys are stored as plain PEM."
        ),
    )
    auth_key_refresh_seconds: float = Field(
        default=30.0, gt=0, description="How often a replica reloads signing keys (rotations by other replicas)."
    )
    auth_token_leeway_seconds: int = Field(default=30, ge=0, description="Clock skew allowed on iat/exp.")
    auth_signer_threads: int = Field(
        default=2, ge=0, le=64,
        description=("Threads that sign participant tokens (RSA signing releases the GIL, so a batch is "
                     "signed on that many cores). Match the pod's CPU limit; 0 signs on the event loop."),
    )
    auth_token_purge_interval_seconds: float = Field(
        default=3600.0, ge=0, description="How often rows of long-expired participant tokens are deleted (0: never)."
    )
    auth_token_purge_after_seconds: int = Field(
        default=7 * 24 * 3600, ge=0, description="Keep expired participant-token rows this long before deleting."
    )
    auth_meeting_check_timeout_seconds: float = Field(
        default=2.0, gt=0, description="Deadline of the MeetingService.GetMeeting call made by VerifyParticipantToken."
    )
