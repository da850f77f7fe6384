"""SfuNodeService: GetNode and DrainNode on the node's own gRPC port (internal callers only)."""

from __future__ import annotations

import hmac
from collections.abc import Callable

import grpc
from realtime.sfu.v1 import sfu_node_service_pb2, sfu_node_service_pb2_grpc
from rtkit.clients import INTERNAL_TOKEN_HEADER
from rtkit.errors import ApiError

from rtk_sfu.node.agent import NodeAgent

SERVICE_NAME = sfu_node_service_pb2.DESCRIPTOR.services_by_name["SfuNodeService"].full_name
_LOOPBACK_PEERS = ("ipv4:127.", "ipv6:[::1]", "ipv6:[::ffff:127.", "unix:")


class SfuNodeServicer(sfu_node_service_pb2_grpc.SfuNodeServiceServicer):
    def __init__(self, agent: NodeAgent, internal_token: str, request_stop: Callable[[], None]) -> None:
        self._agent = agent
        self._token = internal_token.encode()
        self._request_stop = request_stop

    def _authorize(self, context: grpc.aio.ServicerContext) -> None:
        """`x-rtk-internal-token` when RTK_INTERNAL_TOKEN is set; otherwise loopback callers only."""
        md = {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        presented = md.get(INTERNAL_TOKEN_HEADER)
        if self._token:
            if presented is None:
                raise ApiError("TOKEN_MISSING", f"Missing '{INTERNAL_TOKEN_HEADER}'.")
            if not hmac.compare_digest(presented.encode(), self._token):
                raise ApiError("API_CREDENTIALS_INVALID", "Invalid internal credentials.")
            return
        if not (context.peer() or "").startswith(_LOOPBACK_PEERS):
            raise ApiError("FORBIDDEN", "Without RTK_INTERNAL_TOKEN only local callers may control the node.")

    async def GetNode(
        self, request: sfu_node_service_pb2.GetNodeRequest, context: grpc.aio.ServicerContext
    ) -> sfu_node_service_pb2.GetNodeResponse:
        self._authorize(context)
        return sfu_node_service_pb2.GetNodeResponse(node=self._agent.snapshot(self._agent.current_load()))

    async def DrainNode(
        self, request: sfu_node_service_pb2.DrainNodeRequest, context: grpc.aio.ServicerContext
    ) -> sfu_node_service_pb2.DrainNodeResponse:
        self._authorize(context)
        started = self._agent.begin_drain(request.reason or "DrainNode")
        await self._agent.publish_now(flush=True)
        if started:
            # The service's drain hooks (NodeAgent.drain) wait for the sessions, then it stops.
            self._request_stop()
        return sfu_node_service_pb2.DrainNodeResponse(node=self._agent.snapshot(), started=started)
