"""Every failure leaves the gateway as RealtimeKit's error envelope with a 4xx/5xx status."""

from __future__ import annotations

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from rtkit.errors import ApiError, DecodedError, ItemError, decode_rpc_error
from rtkit.logging import get_logger
from rtkit.wire import WireError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rtk_gateway.rest.envelope import ORJSONResponse, error

log = get_logger("rtk_gateway.errors")


def _location(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def upstream_error(decoded: DecodedError, path: str) -> ORJSONResponse:
    """The envelope for a failed gRPC call (or one item of a batch call)."""
    status = decoded.http_status
    if status >= 500:
        log.warning("upstream_failed", path=path, code=decoded.code.name, reason=decoded.reason)
    message = decoded.message
    if decoded.reason in ("DEPENDENCY_UNAVAILABLE",) and decoded.code == grpc.StatusCode.UNAVAILABLE:
        message = "Service temporarily unavailable; retry shortly."
    return error(status, message, decoded.reason)


def response_for(exc: BaseException, path: str) -> ORJSONResponse:
    """The envelope for an error raised while serving `path`: one table for FastAPI's handlers and
    the add-participant fast path (rest/fastpath.py)."""
    if isinstance(exc, ApiError):
        return error(exc.http_status, exc.message, exc.reason)
    if isinstance(exc, grpc.aio.AioRpcError):
        return upstream_error(decode_rpc_error(exc), path)
    if isinstance(exc, ItemError):
        return upstream_error(exc.decoded, path)
    if isinstance(exc, WireError):
        return error(400, f"Invalid request: {exc}", "INVALID_FIELD")
    log.error("unhandled_error", path=path, exc_info=exc)
    return error(500, "Internal error.", "INTERNAL")


def install(app: FastAPI) -> None:
    async def _mapped(request: Request, exc: Exception):
        return response_for(exc, request.url.path)

    for kind in (ApiError, grpc.aio.AioRpcError, ItemError, WireError, Exception):
        app.add_exception_handler(kind, _mapped)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        problems = []
        for item in exc.errors()[:20]:
            problems.append(f"{_location(item.get('loc', ()))}: {item.get('msg', 'invalid')}")
        return error(400, "Invalid request: " + "; ".join(problems), "INVALID_FIELD")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route."
        return error(exc.status_code, message)
