"""Every failure leaves the gateway as RealtimeKit's error envelope with a 4xx/5xx status."""

from __future__ import annotations

import grpc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from rtkit.errors import ApiError, DecodedError, ItemError, decode_rpc_error
from rtkit.logging import get_logger
from rtkit.wire import WireError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rtk_gateway.rest.envelope import error

log = get_logger("rtk_gateway.errors")


def _location(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError):
        return error(exc.http_status, exc.message, exc.reason)

    @app.exception_handler(grpc.aio.AioRpcError)
    async def _rpc_error(request: Request, exc: grpc.aio.AioRpcError):
        return _upstream(request, decode_rpc_error(exc))

    @app.exception_handler(ItemError)
    async def _item_error(request: Request, exc: ItemError):
        return _upstream(request, exc.decoded)

    def _upstream(request: Request, decoded: DecodedError):
        status = decoded.http_status
        if status >= 500:
            log.warning("upstream_failed", path=request.url.path, code=decoded.code.name, reason=decoded.reason)
        message = decoded.message
        if decoded.reason in ("DEPENDENCY_UNAVAILABLE",) and decoded.code == grpc.StatusCode.UNAVAILABLE:
            message = "Service temporarily unavailable; retry shortly."
        return error(status, message, decoded.reason)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError):
        problems = []
        for item in exc.errors()[:20]:
            problems.append(f"{_location(item.get('loc', ()))}: {item.get('msg', 'invalid')}")
        return error(400, "Invalid request: " + "; ".join(problems), "INVALID_FIELD")

    @app.exception_handler(WireError)
    async def _wire(_: Request, exc: WireError):
        return error(400, f"Invalid request: {exc}", "INVALID_FIELD")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "No such route."
        return error(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.error("unhandled_error", path=request.url.path, exc_info=exc)
        return error(500, "Internal error.", "INTERNAL")
