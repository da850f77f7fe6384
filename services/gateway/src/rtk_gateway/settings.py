from pydantic import Field

from rtk_gateway.placement.settings import PlacementSettings


class GatewaySettings(PlacementSettings):
    """Gateway settings: REST edge, signaling relay, and SFU placement (RTK_GATEWAY_*)."""

    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted REST body (bytes).")
    http_keepalive_seconds: float = Field(
        default=75.0, gt=0,
        description="Idle keep-alive HTTP connections are closed after this; longer than the usual 60 s client "
        "and load-balancer idle timeouts, so that the client side closes first and never reuses a closing "
        "connection.",
    )
    rpc_timeout_seconds: float = Field(default=10.0, description="Deadline of each gRPC call made for a REST request.")
    sfu_rpc_timeout_seconds: float = Field(
        default=15.0, description="Deadline of each media call the signaling relay makes to an SFU (SDP negotiation)."
    )
