"""AIP-158 paging over offsets: `page_size`, `skip` (offset, for page_no/per_page) and an
opaque `page_token` that carries the offset plus a fingerprint of the filters it was made for."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass

from rtkit.errors import ApiError

from rtk_meeting.domain import limits as L


@dataclass(frozen=True, slots=True)
class Page:
    offset: int
    limit: int
    fingerprint: str

    def next_token(self, returned: int, total: int) -> str:
        """Token for the page after this one, or "" when this is the last page."""
        nxt = self.offset + returned
        if returned == 0 or nxt >= total:
            return ""
        raw = json.dumps({"o": nxt, "f": self.fingerprint}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def fingerprint(*filters: object) -> str:
    return hashlib.sha256(repr(filters).encode()).hexdigest()[:16]


def _bad(field: str, description: str) -> ApiError:
    return ApiError("INVALID_FIELD", f"{field}: {description}", field_violations=[(field, description)], field=field)


def page(page_size: int, skip: int, page_token: str, *filters: object) -> Page:
    """Resolve a request's paging fields. Sizes above the maximum are coerced (AIP-158)."""
    if page_size < 0:
        raise _bad("page_size", "must not be negative")
    if skip < 0:
        raise _bad("skip", "must not be negative")
    limit = min(page_size or L.PAGE_SIZE_DEFAULT, L.PAGE_SIZE_MAX)
    fp = fingerprint(*filters)
    offset = skip
    if page_token:
        try:
            padded = page_token + "=" * (-len(page_token) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
            offset = int(data["o"])
            token_fp = str(data["f"])
        except (ValueError, KeyError, TypeError):
            raise _bad("page_token", "is not a token returned by this API") from None
        if offset < 0 or token_fp != fp:
            raise _bad("page_token", "does not match the request's filters")
    return Page(offset=offset, limit=limit, fingerprint=fp)
