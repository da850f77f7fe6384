from pydantic import Field

from rtk_gateway.placement.settings import PlacementSettings


class GatewaySettings(PlacementSettings):
    """Gateway settings: REST edge, signaling relay, and SFU placement (RTK_GATEWAY_*)."""

    max_body_bytes: int = Field(default=1_048_576, description="Largest accepted REST body (bytes).")
    rpc_timeout_seconds: float = Field(default=10.0, description="Deadline of each gRPC call made for a REST request.")
    sfu_rpc_timeout_seconds: float = Field(
        default=15.0, description="Deadline of each media call the signaling relay makes to an SFU (SDP negotiation)."
    )
