"""Client signaling relay: WebSocket `/v1/signal` and gRPC `SignalingService.Connect`.

    handler.py    — Relay (process-wide) and Connection (one transport): auth, order, limits,
                    heartbeats, resume; forwards to SessionService, relays NATS pushes
    transport.py  — sinks: WebSocket (protobuf JSON) and gRPC stream (binary), swappable
    messages.py   — pure builders and the JSON codec
    websocket.py, grpc_api.py — the two endpoints
    limits.py, ratelimit.py  — protocol limits and per-connection token buckets

`install()` wires it into the gateway (called from app.build). Protocol: docs/signaling.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import nats
from nats.js.api import DeliverPolicy
from realtime.events.v1 import event_pb2
from realtime.signaling.v1 import signaling_service_pb2_grpc
from rtkit.logging import get_logger

from rtk_gateway.signaling.grpc_api import SERVICE_NAME, SignalingServicer
from rtk_gateway.signaling.handler import Relay
from rtk_gateway.signaling.websocket import router

if TYPE_CHECKING:
    from fastapi import FastAPI
    from rtkit.server import Service

    from rtk_gateway.clients import Clients
    from rtk_gateway.settings import GatewaySettings

__all__ = ["Relay", "install", "router"]

log = get_logger("rtk_gateway.signaling")


def install(service: Service, app: FastAPI, settings: GatewaySettings, clients: Clients,
            placer: Any = None) -> Relay:
    """Mount the WebSocket route, register the gRPC servicer, and own a NATS connection.

    `placer` (rtk_gateway.placement.Placer) chooses each session's SFU; the relay routes the
    peers' media messages there and releases the session's pin when the session ends."""
    relay = Relay(
        auth=clients.auth,
        sessions=clients.sessions,
        nats=None,
        internal_token=settings.internal_token,
        rpc_timeout=settings.rpc_timeout_seconds,
        placer=placer,
        sfu_timeout=settings.sfu_rpc_timeout_seconds,
    )
    app.state.signaling = relay
    app.include_router(router)
    service.add_servicer(
        signaling_service_pb2_grpc.add_SignalingServiceServicer_to_server, SignalingServicer(relay), SERVICE_NAME
    )

    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        async def _on_error(exc: Exception) -> None:
            log.warning("signal_nats_error", error=str(exc))

        relay.nats = await nats.connect(
            servers=[settings.nats_url],
            name="gateway-signaling",
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=3,
            error_cb=_on_error,
        )
        if placer is not None:
            tasks.append(asyncio.create_task(_release_ended_sessions(relay.nats, placer), name="placement-release"))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await relay.close_sfus()
        if relay.nats is not None and not relay.nats.is_closed:
            await relay.nats.close()

    service.on_start(start)
    service.on_drain(relay.close)
    service.on_stop(stop)
    return relay


SESSION_ENDED = "realtime.events.v1.apps.*.meetings.*.session_ended"


async def _release_ended_sessions(nc: Any, placer: Any) -> None:
    """Forget a session's SFU pin when the session ends (every replica does it; idempotent).

    An ephemeral deliver-new consumer: a pin missed while the gateway was down expires with its
    TTL. Retries until the REALTIME_EVENTS stream exists (the orchestrator creates it)."""

    async def on_message(msg: Any) -> None:
        try:
            event = event_pb2.Event.FromString(msg.data)
        except Exception:  # noqa: BLE001
            return
        session_id = event.session_ended.session.id
        if session_id:
            try:
                await placer.release(session_id)
            except Exception as exc:  # noqa: BLE001 - the pin's TTL is the backstop
                log.warning("placement_release_failed", session_id=session_id, error=str(exc))
            else:
                log.info("placement_released", session_id=session_id)

    js = nc.jetstream()
    delay = 0.5
    while True:
        try:
            await js.subscribe(SESSION_ENDED, cb=on_message, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - stream not created yet, NATS restarting
            log.info("placement_release_waiting", error=str(exc) or type(exc).__name__)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
