"""OpenTelemetry setup: a tracer provider per process, grpc.aio server and client instrumented.

Export is off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Without an exporter, new traces are
not sampled (unless `OTEL_TRACES_SAMPLER` says otherwise): spans are non-recording but still
carry trace ids, so log lines have them and context propagates across gRPC and NATS, without
paying for attributes and span processing nobody reads. A caller's sampled `traceparent` is
still honoured.
"""

from __future__ import annotations

import os

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

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
    from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient, GrpcAioInstrumentorServer

    GrpcAioInstrumentorServer().instrument()
    GrpcAioInstrumentorClient().instrument()


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
