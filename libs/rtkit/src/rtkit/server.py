"""One gRPC server bootstrap for every service.

`main()` is the process entry point (`python -m rtk_<svc> [serve|migrate]`); `Service` owns the
lifecycle: interceptors (errors → google.rpc.Status, canonical log line, metrics, an
OpenTelemetry server span per RPC), grpc.health.v1 (readiness key "" and liveness key "liveness"), server
reflection, and a graceful stop on SIGTERM/SIGINT: readiness goes NOT_SERVING, drain hooks run,
in-flight RPCs get `stop_grace_seconds`, then stop hooks run in reverse order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from rtkit import logging as rtk_logging
from rtkit import metrics, telemetry
from rtkit.config import ServiceSettings
from rtkit.errors import ApiError

Hook = Callable[[], Awaitable[Any]]
log = rtk_logging.get_logger("rtkit.server")

LIVENESS = "liveness"
_UNAVAILABLE_SQLSTATE_PREFIXES = ("08", "57P")


def classify_exception(exc: BaseException) -> ApiError | None:
    """Map infrastructure failures to catalogue errors so callers get 503/400, never a bare 500."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, asyncpg.PostgresError):
        state = getattr(exc, "sqlstate", "") or ""
        if state.startswith(_UNAVAILABLE_SQLSTATE_PREFIXES):
            metrics.DB_UNAVAILABLE.inc()
            return ApiError("DATABASE_UNAVAILABLE", "The database is unavailable; retry shortly.")
        if state.startswith("22"):  # data exception: a value the column cannot hold
            return ApiError("INVALID_FIELD", "A value in the request is out of range or malformed.")
        return None
    if isinstance(
        exc,
        asyncpg.InterfaceError | asyncpg.exceptions.ConnectionDoesNotExistError | ConnectionError | OSError |
        asyncio.TimeoutError,
    ):
        metrics.DB_UNAVAILABLE.inc()
        return ApiError("DATABASE_UNAVAILABLE", "The database is unavailable; retry shortly.")
    if isinstance(exc, grpc.aio.AioRpcError) and exc.code() in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    ):
        return ApiError("DEPENDENCY_UNAVAILABLE", f"A dependency is unavailable: {exc.details()}")
    return None


class _ServerInterceptor(grpc.aio.ServerInterceptor):
    """Errors, metrics and a canonical log line for every RPC."""

    def __init__(self, service: str) -> None:
        self._service = service
        # Handlers are static per method; wrapping once per method (not per call) keeps the
        # per-RPC overhead to the call itself.
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    async def intercept_service(self, continuation, handler_call_details):  # type: ignore[override]
        method = handler_call_details.method
        cached = self._wrapped.get(method)
        if cached is not None:
            return cached
        handler = await continuation(handler_call_details)
        if handler is None or method.startswith(("/grpc.health.v1.", "/grpc.reflection.")):
            return handler
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = wrapped
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        service = self._service
        latency = metrics.GRPC_LATENCY.labels(service, method)
        served_ok = metrics.GRPC_REQUESTS.labels(service, method, "OK")

        async def _fail(exc: BaseException, context: grpc.aio.ServicerContext, started: float, span) -> None:  # noqa: ANN001
            error = classify_exception(exc)
            if error is None:
                log.error("rpc_failed", method=method, exc_info=exc)
                error = ApiError("INTERNAL", "Internal error.")
            elif error.reason in ("DATABASE_UNAVAILABLE", "DEPENDENCY_UNAVAILABLE", "INTERNAL"):
                log.warning("rpc_unavailable", method=method, reason=error.reason, error=str(exc))
            metrics.GRPC_REQUESTS.labels(service, method, error.grpc_code.name).inc()
            latency.observe(time.perf_counter() - started)
            telemetry.set_rpc_status(span, error.grpc_code)
            await context.abort_with_status(error.to_status(domain=f"{service}.realtime.rtk"))

        def _done(started: float, context: grpc.aio.ServicerContext, span) -> None:  # noqa: ANN001
            code = context.code()
            if code is None or code == grpc.StatusCode.OK:
                served_ok.inc()
            else:
                metrics.GRPC_REQUESTS.labels(service, method, code.name).inc()
            latency.observe(time.perf_counter() - started)
            telemetry.set_rpc_status(span, code or grpc.StatusCode.OK)

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request, context):
                started = time.perf_counter()
                with telemetry.server_span(method, context.invocation_metadata()) as span:
                    try:
                        response = await inner_uu(request, context)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - mapped to a status
                        if _is_abort(exc):
                            raise
                        await _fail(exc, context, started, span)
                        raise
                    _done(started, context, span)
                    return response

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        async def _served_stream(responses, context: grpc.aio.ServicerContext):  # noqa: ANN001, ANN202
            started = time.perf_counter()
            with telemetry.server_span(method, context.invocation_metadata()) as span:
                try:
                    async for item in responses:
                        yield item
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001
                    if _is_abort(exc):
                        raise
                    await _fail(exc, context, started, span)
                    raise
                _done(started, context, span)

        # grpc.aio tells streaming handlers apart by being async generator functions, hence a thin
        # generator around the shared one (closed with it, so its span ends in the RPC's context).
        def _streaming(inner):  # noqa: ANN001, ANN202
            async def serve(request_or_iterator, context):  # noqa: ANN001, ANN202
                async with contextlib.aclosing(_served_stream(inner(request_or_iterator, context), context)) as items:
                    async for item in items:
                        yield item

            return serve

        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _streaming(handler.unary_stream), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                _streaming(handler.stream_stream), handler.request_deserializer, handler.response_serializer
            )
        return handler


def _is_abort(exc: BaseException) -> bool:
    # context.abort() raises grpc.aio.AbortError (an internal type); let it through untouched.
    return type(exc).__name__ == "AbortError"


class Service:
    """A gRPC service process: register servicers and hooks, then `await run()`."""

    def __init__(self, name: str, settings: ServiceSettings) -> None:
        self.name = name
        self.settings = settings
        self.health = health.aio.HealthServicer()
        self._servicers: list[tuple[Callable[[Any, grpc.aio.Server], None], Any, str]] = []
        self._start_hooks: list[Hook] = []
        self._drain_hooks: list[Hook] = []
        self._stop_hooks: list[Hook] = []
        self._background: list[asyncio.Task[Any]] = []
        self._stopping = asyncio.Event()
        self.server: grpc.aio.Server | None = None
        self.bound_port: int | None = None

    def add_servicer(self, adder: Callable[[Any, grpc.aio.Server], None], servicer: Any, full_name: str) -> None:
        self._servicers.append((adder, servicer, full_name))

    def on_start(self, hook: Hook) -> None:
        """Run before the server accepts RPCs (connect pools, start consumers)."""
        self._start_hooks.append(hook)

    def on_drain(self, hook: Hook) -> None:
        """Run as soon as a stop is requested, while RPCs are still served."""
        self._drain_hooks.append(hook)

    def on_stop(self, hook: Hook) -> None:
        """Run after the server stopped, in reverse registration order (close pools)."""
        self._stop_hooks.append(hook)

    def run_in_background(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        """A loop of the service (refresh, reap, sweep): cancelled and awaited once the server
        has stopped, before the stop hooks close what it uses."""
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}-{name}")
        self._background.append(task)
        return task

    async def _cancel_background(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            try:
                await task
            except asyncio.CancelledError:
                pass
            except Exception:  # noqa: BLE001 - it failed earlier; shutdown goes on
                log.exception("background_task_failed", task=task.get_name())
        self._background.clear()

    def request_stop(self) -> None:
        self._stopping.set()

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        await self.health.set("", status)
        for _, _, full_name in self._servicers:
            await self.health.set(full_name, status)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.request_stop)
            except (NotImplementedError, RuntimeError):
                pass
        max_message = 16 * 1024 * 1024
        server = grpc.aio.server(
            interceptors=[_ServerInterceptor(self.name)],
            options=[
                ("grpc.max_receive_message_length", max_message),
                ("grpc.max_send_message_length", max_message),
                ("grpc.so_reuseport", 0),
            ],
        )
        self.server = server
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
        for adder, servicer, full_name in self._servicers:
            adder(servicer, server)
            names.append(full_name)
        reflection.enable_server_reflection(names, server)
        for hook in self._start_hooks:
            await hook()
        self.bound_port = server.add_insecure_port(f"{self.settings.grpc_host}:{self.settings.grpc_port}")
        await server.start()
        await self.health.set(LIVENESS, health_pb2.HealthCheckResponse.SERVING)
        await self.set_serving(True)
        # Everything built so far (modules, descriptors, routes, pools) lives as long as the process:
        # moved out of the collector's view, a full collection no longer walks those ~100k objects,
        # which paused the event loop for 20-50 ms (the latency tail under load).
        gc.collect()
        gc.freeze()
        log.info("service_started", grpc_port=self.bound_port, services=[n for *_, n in self._servicers])
        await self._stopping.wait()

        log.info("service_draining", drain_seconds=self.settings.drain_seconds)
        await self.set_serving(False)
        for hook in self._drain_hooks:
            await _guard(hook)
        if self.settings.drain_seconds > 0:
            await asyncio.sleep(self.settings.drain_seconds)
        await server.stop(self.settings.stop_grace_seconds)
        await self._cancel_background()
        for hook in reversed(self._stop_hooks):
            await _guard(hook)
        telemetry.shutdown()
        log.info("service_stopped")


async def _guard(hook: Hook) -> None:
    try:
        await hook()
    except Exception:  # noqa: BLE001 - shutdown continues whatever one hook does
        log.exception("shutdown_hook_failed", hook=getattr(hook, "__qualname__", repr(hook)))


def main(
    *,
    name: str,
    build: Callable[[Any], Awaitable[Service]],
    settings_cls: type[ServiceSettings] = ServiceSettings,
    schema: str | None = None,
    migrations_dir: Path | None = None,
    commands: dict[str, Callable[[Any], Awaitable[int]]] | None = None,
) -> None:
    """Process entry point: `serve` (default) or `migrate`, plus service-specific commands."""
    parser = argparse.ArgumentParser(prog=f"python -m rtk_{name}")
    choices = ["serve", "migrate", *(commands or {})]
    parser.add_argument("command", nargs="?", default="serve", choices=choices)
    args = parser.parse_args()
    settings = settings_cls()
    if settings.service_name in ("", "realtime"):
        settings.service_name = name
    rtk_logging.configure(name, settings.log_level, settings.log_format)

    async def _migrate() -> int:
        from rtkit import db

        if schema is None or migrations_dir is None:
            print(f"{name} owns no tables", file=sys.stderr)
            return 0
        applied = await db.migrate(settings.database_url, schema, migrations_dir)
        log.info("migrations_applied", schema=schema, applied=applied)
        return 0

    async def _serve() -> int:
        telemetry.setup(name)
        if settings.auto_migrate and schema and migrations_dir:
            await _migrate()
        metrics.serve(settings.metrics_port)
        service = await build(settings)
        await service.run()
        return 0

    if args.command == "serve":
        runner: Callable[[], Awaitable[int]] = _serve
    elif args.command == "migrate":
        runner = _migrate
    else:
        command = (commands or {})[args.command]

        async def runner() -> int:
            return await command(settings)

    if settings.uvloop:
        try:
            import uvloop
        except ImportError:  # optional: the stdlib loop works, only slower
            pass
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    sys.exit(asyncio.run(runner()))
