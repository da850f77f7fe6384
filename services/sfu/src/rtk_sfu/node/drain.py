"""`python -m rtk_sfu drain`: ask the local node to drain and wait until it has stopped.

For a Kubernetes preStop hook (`exec: {command: [python, -m, rtk_sfu, drain]}`): the node
publishes DRAINING at once, serves its sessions until they end (at most
RTK_SFU_MAX_DRAIN_SECONDS), then stops; this command returns when the node's gRPC port closes.
Exit 0 when the node drained (or had already stopped serving), 1 when it could not be reached.
"""

from __future__ import annotations

import asyncio
import time

import grpc
from realtime.sfu.v1 import node_pb2, sfu_node_service_pb2, sfu_node_service_pb2_grpc
from rtkit.clients import internal_metadata
from rtkit.logging import get_logger

from rtk_sfu.settings import SfuSettings

log = get_logger("rtk_sfu.drain")


def local_target(settings: SfuSettings) -> str:
    host = settings.grpc_host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    return f"{host}:{settings.grpc_port}"


async def drain_command(settings: SfuSettings, *, poll: float = 0.5) -> int:
    target = local_target(settings)
    metadata = internal_metadata(settings.internal_token) if settings.internal_token else ()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = sfu_node_service_pb2_grpc.SfuNodeServiceStub(channel)
        try:
            response = await stub.DrainNode(
                sfu_node_service_pb2.DrainNodeRequest(reason="drain command"), metadata=metadata, timeout=5
            )
        except grpc.aio.AioRpcError as exc:
            log.error("sfu_drain_unreachable", target=target, code=exc.code().name, details=exc.details())
            return 1
        node = response.node
        log.info("sfu_drain_requested", node_id=node.node_id, started=response.started, peers=node.load.peers)
        deadline = time.monotonic() + settings.sfu_max_drain_seconds + settings.drain_seconds + \
            settings.stop_grace_seconds + 5
        while time.monotonic() < deadline:
            await asyncio.sleep(poll)
            try:
                current = await stub.GetNode(sfu_node_service_pb2.GetNodeRequest(), metadata=metadata, timeout=2)
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED):
                    log.info("sfu_drain_done", node_id=node.node_id)
                    return 0
                continue
            if current.node.state != node_pb2.NODE_STATE_DRAINING:  # restarted meanwhile
                log.warning("sfu_drain_superseded", node_id=node.node_id, state=current.node.state)
                return 0
        log.warning("sfu_drain_wait_timeout", node_id=node.node_id)
        return 0
