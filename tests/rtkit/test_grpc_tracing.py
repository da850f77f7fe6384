"""rtkit's own gRPC tracing (no instrumentation package): the trace continues from client to
server, sampled traces record CLIENT and SERVER spans with the RPC's status, and an untraced call
still runs inside a span with fresh ids (what the log lines carry)."""

from __future__ import annotations

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from rtkit import clients
from rtkit.errors import ApiError
from rtkit.server import _ServerInterceptor


async def _server(seen: list[trace.SpanContext]):  # noqa: ANN202
    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        seen.append(trace.get_current_span().get_span_context())
        if request == b"missing":
            raise ApiError("MEETING_NOT_FOUND", "No such meeting.")
        return request

    server = grpc.aio.server(interceptors=[_ServerInterceptor("test")])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "test.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def test_trace_flows_from_client_to_server_and_spans_record_status(exporter):
    seen: list[trace.SpanContext] = []
    server, port = await _server(seen)
    channel = clients.channel(f"127.0.0.1:{port}")
    echo = channel.unary_unary("/test.Echo/Echo")
    tracer = trace.get_tracer("test")
    exporter.clear()
    try:
        with tracer.start_as_current_span("caller") as caller:
            assert await echo(b"hi") == b"hi"
            with pytest.raises(grpc.aio.AioRpcError) as failed:
                await echo(b"missing")
        assert failed.value.code() == grpc.StatusCode.NOT_FOUND
        trace_id = caller.get_span_context().trace_id
        assert [s.trace_id for s in seen] == [trace_id, trace_id]

        spans = exporter.get_finished_spans()
        client_spans = [s for s in spans if s.kind == SpanKind.CLIENT]
        server_spans = [s for s in spans if s.kind == SpanKind.SERVER]
        assert len(client_spans) == len(server_spans) == 2
        for client_span, server_span in zip(client_spans, server_spans, strict=True):
            assert client_span.parent.span_id == caller.get_span_context().span_id
            assert server_span.parent.span_id == client_span.context.span_id  # server continues the client
            assert server_span.attributes["rpc.method"] == "Echo"
            assert server_span.attributes["rpc.service"] == "test.Echo"
        assert server_spans[0].status.status_code != StatusCode.ERROR
        assert server_spans[1].status.status_code == StatusCode.ERROR
        assert server_spans[1].attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
        assert client_spans[1].status.status_code == StatusCode.ERROR

        # No trace on the caller's side: the server starts one, so its log lines still have ids.
        seen.clear()
        assert await echo(b"again") == b"again"
        assert seen[0].is_valid and seen[0].trace_id not in (0, trace_id)
    finally:
        await channel.close()
        await server.stop(0)
