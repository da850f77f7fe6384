"""Gateway wiring: FastAPI (REST, well-known documents) served by uvicorn next to a gRPC server
(health, and the signaling stream later) in one process, with one graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from fastapi import FastAPI
from opentelemetry.trace import SpanKind, StatusCode
from rtkit import telemetry
from rtkit.server import Service
from starlette.types import ASGIApp

from rtk_gateway import placement, signaling
from rtk_gateway.clients import Clients
from rtk_gateway.rest import errors
from rtk_gateway.rest.envelope import ORJSONResponse, error
from rtk_gateway.rest.fastpath import AddParticipantFastPath
from rtk_gateway.settings import GatewaySettings

API_PREFIX = "/client/v4"


class _BodyLimit:
    """Refuse oversized bodies before they are read into memory (pure ASGI: no per-request task)."""

    def __init__(self, app, limit: int) -> None:  # noqa: ANN001
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = error(413, f"Request body larger than {self.limit} bytes.", "INVALID_FIELD")
            return await response(scope, receive, send)
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # Chunked body: buffer it (up to the limit) before the app sees it.
            chunks, size = [], 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                if size > self.limit:
                    response = error(413, f"Request body larger than {self.limit} bytes.", "INVALID_FIELD")
                    return await response(scope, receive, send)
                if not message.get("more_body"):
                    break
            replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replayed_receive():  # noqa: ANN202
                return replay.pop() if replay else await receive()

            return await self.app(scope, replayed_receive, send)
        return await self.app(scope, receive, send)


class _ServerSpan:
    """One server span per HTTP request, continuing the caller's `traceparent` into the gRPC calls
    and log lines. Replaces FastAPI's telemetry middleware, which cost ~70 µs per request (a fifth
    of the gateway's CPU on add-participant) even when the span is not recorded."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]
                   if name in _TRACE_HEADERS}
        parent = telemetry.extract_context(carrier) if carrier else None
        method = scope["method"]
        with telemetry.tracer.start_as_current_span(method, context=parent, kind=SpanKind.SERVER) as span:
            if not span.is_recording():
                return await self.app(scope, receive, send)
            span.set_attribute("http.request.method", method)
            span.set_attribute("url.path", scope["path"])

            async def traced_send(message) -> None:  # noqa: ANN001
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    if message["status"] >= 500:
                        span.set_status(StatusCode.ERROR)
                await send(message)

            try:
                await self.app(scope, receive, traced_send)
            finally:
                route = scope.get("route")
                if route is not None and getattr(route, "path", None):
                    span.set_attribute("http.route", route.path)
                    span.update_name(f"{method} {route.path}")


_TRACE_HEADERS = (b"traceparent", b"tracestate")


def create_app(settings: GatewaySettings, clients: Clients | None = None) -> FastAPI:
    app = FastAPI(
        title="RealtimeKit-compatible API",
        version="1.0.0",
        description="Self-hosted RealtimeKit REST API. Paths, bodies and envelopes follow Cloudflare RealtimeKit.",
        default_response_class=ORJSONResponse,
        docs_url="/docs",
        redoc_url=None,
        # Tracing is _ServerSpan's (cheaper); FastAPI's own telemetry stays off.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.clients = clients
    app.state.settings = settings
    errors.install(app)

    from rtk_gateway.rest import ROUTERS

    for router in ROUTERS:
        app.include_router(router)
    app.include_router(__import__("rtk_gateway.web", fromlist=["router"]).router)  # SDK, UI kit, /meeting (docs/web.md)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def edge(app: FastAPI, settings: GatewaySettings) -> ASGIApp:
    """What uvicorn serves: the server span (outermost: error responses are inside it too), the
    body limit, and the add-participant fast path in front of the FastAPI app (rest/fastpath.py)."""
    return _ServerSpan(_BodyLimit(AddParticipantFastPath(app), limit=settings.max_body_bytes))


class _Uvicorn(uvicorn.Server):
    # The service owns SIGTERM/SIGINT (drain first, then stop); uvicorn must not grab them.
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


async def build(settings: GatewaySettings) -> Service:
    service = Service("gateway", settings)
    clients = Clients.connect(settings)
    app = create_app(settings, clients)
    placer = await placement.install(service, settings, bus=None)  # SFU choice per session
    app.state.placer = placer
    signaling.install(service, app, settings, clients, placer)  # WebSocket /v1/signal + gRPC SignalingService
    config = uvicorn.Config(
        edge(app, settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=settings.stop_grace_seconds,
        backlog=4096,
        timeout_keep_alive=int(settings.http_keepalive_seconds),
        ws_max_size=signaling.limits.MAX_FRAME_BYTES,
    )
    http = _Uvicorn(config)
    task: dict[str, asyncio.Task[None]] = {}

    async def start_http() -> None:
        task["http"] = asyncio.create_task(http.serve())
        while not http.started:
            if task["http"].done():
                task["http"].result()  # surface bind errors
                raise RuntimeError("HTTP server exited during start")
            await asyncio.sleep(0.02)

    async def stop_http() -> None:
        http.should_exit = True
        if "http" in task:
            await task["http"]
        await clients.close()

    service.on_start(start_http)
    service.on_stop(stop_http)
    return service
