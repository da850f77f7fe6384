"""Service configuration from `RTK_*` environment variables (documented in docs/configuration.md)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """Settings every service shares. Services subclass this to add their own `RTK_*` fields."""

    model_config = SettingsConfigDict(env_prefix="RTK_", extra="ignore", populate_by_name=True)

    service_name: str = Field(default="realtime", description="Name used in logs, traces and metrics.")
    database_url: str = Field(default="", description="Postgres DSN, e.g. postgresql://user@host:5432/db.")
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server with JetStream.")
    bus_namespace: str = Field(
        default="", description="Suffix for durable NATS consumer names when several stacks share one NATS."
    )
    grpc_host: str = Field(default="0.0.0.0", description="Address the gRPC server binds.")
    grpc_port: int = Field(default=50051, description="gRPC port.")
    metrics_port: int = Field(default=9090, description="Prometheus /metrics port; 0 disables it.")
    http_host: str = Field(default="0.0.0.0", description="Address HTTP servers bind (gateway).")
    http_port: int = Field(default=8080, description="HTTP port (gateway).")
    log_level: str = Field(default="info", description="debug, info, warning, error.")
    log_format: str = Field(default="json", description="json or console.")
    internal_token: str = Field(default="", description="Shared secret presented by service-to-service calls.")
    meeting_addr: str = Field(default="127.0.0.1:50051", description="Meeting service gRPC address.")
    auth_addr: str = Field(default="127.0.0.1:50052", description="Auth service gRPC address.")
    orchestrator_addr: str = Field(default="127.0.0.1:50053", description="Orchestrator gRPC address.")
    sfu_addr: str = Field(default="127.0.0.1:50054", description="SFU gRPC address (single-node setups).")
    recording_addr: str = Field(default="127.0.0.1:50055", description="Recording service gRPC address.")
    gateway_addr: str = Field(default="127.0.0.1:50050", description="Gateway gRPC address.")
    public_url: str = Field(default="http://127.0.0.1:8080", description="Public base URL of the gateway.")
    drain_seconds: float = Field(default=5.0, description="On SIGTERM: report NOT_SERVING this long before stopping.")
    stop_grace_seconds: float = Field(default=10.0, description="Grace for in-flight RPCs when stopping.")
    auto_migrate: bool = Field(default=True, description="Apply this service's migrations at start.")
    db_pool_min: int = Field(default=2, description="Minimum Postgres connections per process.")
    db_pool_max: int = Field(default=20, description="Maximum Postgres connections per process.")
    db_connect_timeout: float = Field(default=2.0, description="Seconds before a Postgres connect attempt fails.")
    uvloop: bool = Field(default=True, description="Run the event loop on uvloop (faster I/O).")
    db_command_timeout: float = Field(default=5.0, description="Seconds before a Postgres statement fails.")
