"""OpenTelemetry setup: a tracer provider per process, and tracing for grpc.aio servers and clients.

Export is off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Without an exporter, new traces are
not sampled (unless `OTEL_TRACES_SAMPLER` says otherwise): spans are non-recording but still
carry trace ids, so log lines have them and context propagates across gRPC and NATS, without
paying for attributes and span processing nobody reads. A caller's sampled `traceparent` is
still honoured.

gRPC is traced by rtkit itself rather than by opentelemetry-instrumentation-grpc: a server span
per RPC (`server_span`, used by rtkit.server's interceptor), and client interceptors on
rtkit.clients' channels that add the current trace context to the call's metadata and record a
CLIENT span only when the current trace is sampled. The instrumentation package's interceptors
cost 120–210 µs of CPU per call (client and server), a third of a grpc.aio call's own cost, even
for spans that are never recorded (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind, StatusCode

_configured = False


def setup(service: str) -> None:
    global _configured
    if _configured:
        return
    _configured = True
    exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    sampler = None if exporting or os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(ALWAYS_OFF)
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)}),
                              sampler=sampler)
    if exporting:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)


def shutdown() -> None:
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def inject_headers(headers: dict[str, str]) -> dict[str, str]:
    """Add W3C traceparent/tracestate of the current span (for NATS messages)."""
    propagate.inject(headers)
    return headers


def extract_context(headers: dict[str, str] | None):  # noqa: ANN201 - opentelemetry Context
    return propagate.extract(headers or {})


tracer = trace.get_tracer("rtkit")


_TRACE_KEYS = ("traceparent", "tracestate")


def _rpc_attributes(method: str) -> dict[str, str]:
    service, _, name = method.lstrip("/").rpartition("/")
    return {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name}


@contextlib.contextmanager
def server_span(method: str, metadata: Any) -> Iterator[trace.Span]:
    """The SERVER span of one RPC, current while it is handled: it continues the caller's trace
    (`traceparent` in the call's metadata) or starts a new one (ids for the log lines)."""
    carrier = {key: value for key, value in metadata or () if key in _TRACE_KEYS}
    parent = propagate.extract(carrier) if carrier else Context()
    with tracer.start_as_current_span(method, context=parent, kind=SpanKind.SERVER,
                                      record_exception=False, set_status_on_exception=False) as span:
        if span.is_recording():
            span.set_attributes(_rpc_attributes(method))
        yield span


def set_rpc_status(span: trace.Span, code: grpc.StatusCode) -> None:
    if span.is_recording():
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code != grpc.StatusCode.OK:
            span.set_status(StatusCode.ERROR, code.name)


def _traced(details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return details
    metadata = grpc.aio.Metadata(*(details.metadata or ()), *carrier.items())
    return details._replace(metadata=metadata)  # type: ignore[attr-defined]


class _ClientTracing(grpc.aio.UnaryUnaryClientInterceptor, grpc.aio.UnaryStreamClientInterceptor,
                     grpc.aio.StreamUnaryClientInterceptor, grpc.aio.StreamStreamClientInterceptor):
    """Trace context into every call's metadata; a CLIENT span for unary calls of sampled traces."""

    async def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[override]
        if not trace.get_current_span().is_recording():
            return await continuation(_traced(client_call_details), request)
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else method
        with tracer.start_as_current_span(method, kind=SpanKind.CLIENT, attributes=_rpc_attributes(method),
                                          record_exception=False, set_status_on_exception=False) as span:
            call = await continuation(_traced(client_call_details), request)
            code = await call.code()
            set_rpc_status(span, code)
            return call

    async def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[override]
        return await continuation(_traced(client_call_details), request)

    async def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[override]
        return await continuation(_traced(client_call_details), request_iterator)

    async def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[override]
        return await continuation(_traced(client_call_details), request_iterator)


CLIENT_INTERCEPTORS: list[Any] = [_ClientTracing()]
