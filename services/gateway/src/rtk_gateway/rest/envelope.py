"""RealtimeKit's response envelope: `{success, data, paging}` / `{success: false, error}`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Query
from starlette.responses import JSONResponse


class ORJSONResponse(JSONResponse):
    """JSON via orjson (fast, and serializes datetimes); the envelope is always a plain dict."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def ok(data: Any, *, paging: dict[str, int] | None = None, status: int = 200) -> ORJSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if paging is not None:
        body["paging"] = paging
    return ORJSONResponse(body, status_code=status)


def error(status: int, message: str, reason: str | None = None, **extra: Any) -> ORJSONResponse:
    err: dict[str, Any] = {"code": status, "message": message}
    if reason:
        err["reason"] = reason
    err.update(extra)
    return ORJSONResponse({"success": False, "error": err}, status_code=status)


class Page:
    """`page_no` (1-based; 0 means 1) and `per_page` (default 20, clamped to 100)."""

    def __init__(
        self,
        page_no: int = Query(1, ge=0, le=1_000_000, description="Page number, starting at 1."),
        per_page: int = Query(DEFAULT_PER_PAGE, ge=0, le=10_000, description="Items per page (max 100)."),
    ) -> None:
        self.page_no = max(page_no, 1)
        self.per_page = min(per_page or DEFAULT_PER_PAGE, MAX_PER_PAGE)

    @property
    def skip(self) -> int:
        return (self.page_no - 1) * self.per_page

    def paging(self, total: int, count: int) -> dict[str, int]:
        """1-based inclusive offsets of the items returned (0/0 when the page is empty)."""
        start = self.skip + 1 if count else 0
        return {"total_count": total, "start_offset": start, "end_offset": self.skip + count if count else 0}


def paged(items: list[Any], total: int, page: Page) -> ORJSONResponse:
    return ok(items, paging=page.paging(total, len(items)))
