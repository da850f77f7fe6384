"""structlog configuration shared by every service: JSON lines on stdout with trace/span ids."""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from opentelemetry import trace

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure(service: str, level: str = "info", fmt: str = "json") -> None:
    """Configure structlog (and route stdlib logging through the same renderer)."""
    numeric = _LEVELS.get(level.lower(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    if fmt == "console":
        renderer: Any = structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
        factory: Any = structlog.PrintLoggerFactory()
        final = [structlog.processors.format_exc_info, renderer]
    else:
        factory = structlog.BytesLoggerFactory()
        final = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer(serializer=orjson.dumps)]
    structlog.configure(
        processors=[*shared, *final],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through stdlib logging (grpc, asyncpg, aiortc): same renderer, warnings and up.
    handler = logging.StreamHandler(sys.stdout)
    stdlib_renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer(serializer=lambda obj, **kw: orjson.dumps(obj, default=str).decode())
    )
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared, structlog.processors.format_exc_info],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, stdlib_renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    logging.captureWarnings(True)  # library warnings become JSON log lines too
    root.setLevel(max(numeric, logging.WARNING))


def get_logger(name: str | None = None, **bound: Any) -> structlog.typing.FilteringBoundLogger:
    logger = structlog.get_logger(name) if name else structlog.get_logger()
    return logger.bind(**bound) if bound else logger
