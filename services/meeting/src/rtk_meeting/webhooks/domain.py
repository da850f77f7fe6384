"""Webhook configurations: validation and CRUD, scoped by app (transport-agnostic)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import uuid
from urllib.parse import urlsplit

from google.protobuf import field_mask_pb2
from realtime.meeting.v1 import webhook_pb2
from rtkit.db import Database
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_meeting.webhooks import catalogue, store

log = get_logger("rtk_meeting.webhooks")

NAME_MAX = 255
URL_MAX = 2048
MAX_WEBHOOKS_PER_APP = 50
PAGE_SIZE_MAX = 100
MUTABLE = ("name", "url", "events", "enabled")


def not_found(webhook_id: str) -> ApiError:
    return ApiError("WEBHOOK_NOT_FOUND", f"No webhook with id {webhook_id}.", webhookId=webhook_id)


def _invalid(violations: list[tuple[str, str]]) -> ApiError:
    field, description = violations[0]
    more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
    return ApiError("INVALID_FIELD", f"{field}: {description}{more}", field_violations=violations, field=field)


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive deliveries, or None. Absolute http(s) URL with a host, no credentials."""
    if not url.strip():
        return "is required"
    if len(url) > URL_MAX:
        return f"must be at most {URL_MAX} characters"
    if url != url.strip() or any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return "must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials"
    if port == 0:
        return "must not use port 0"
    return None


def is_private_host(host: str) -> bool:
    """Loopback, private, link-local, reserved or unspecified address literal (not DNS names)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost")
    return not address.is_global or address.is_multicast


def check(webhook: webhook_pb2.Webhook) -> None:
    """Invariants of a complete webhook (after defaults / masks were applied)."""
    violations: list[tuple[str, str]] = []
    if not webhook.name.strip():
        violations.append(("name", "is required"))
    elif len(webhook.name) > NAME_MAX:
        violations.append(("name", f"must be at most {NAME_MAX} characters"))
    elif "\x00" in webhook.name:
        violations.append(("name", "must not contain NUL characters"))
    problem = url_problem(webhook.url)
    if problem:
        violations.append(("url", problem))
    known = set(catalogue.numbers())
    if not webhook.events:
        violations.append(("events", f"must name at least one event ({', '.join(catalogue.names())})"))
    for i, event in enumerate(webhook.events):
        if event not in known:
            violations.append((f"events[{i}]", f"must be one of {', '.join(catalogue.names())}"))
    if violations:
        raise _invalid(violations)


def _normalize(webhook: webhook_pb2.Webhook) -> None:
    """Drop duplicate events (first occurrence wins)."""
    seen: list[int] = []
    for event in webhook.events:
        if event not in seen:
            seen.append(event)
    if len(seen) != len(webhook.events):
        del webhook.events[:]
        webhook.events.extend(seen)


def _input(webhook: webhook_pb2.Webhook) -> webhook_pb2.Webhook:
    """Client-settable fields only; `enabled` defaults to true."""
    w = webhook_pb2.Webhook(name=webhook.name, url=webhook.url, events=list(webhook.events))
    w.enabled = webhook.enabled if webhook.HasField("enabled") else True
    _normalize(w)
    return w


def _uuid(webhook_id: str) -> str:
    try:
        return str(uuid.UUID(webhook_id))
    except (ValueError, AttributeError, TypeError):
        raise not_found(webhook_id) from None


def _page_offset(page_token: str) -> int:
    if not page_token:
        return 0
    try:
        raw = base64.urlsafe_b64decode(page_token + "=" * (-len(page_token) % 4)).decode()
        kind, _, value = raw.partition(":")
        offset = int(value)
        if kind != "o" or offset < 0:
            raise ValueError
        return offset
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _invalid([("page_token", "is not a token returned by this API")]) from None


def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


class Webhooks:
    """CRUD of webhook configurations. Delivery lives in dispatcher.py / delivery.py."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, app_id: str, webhook: webhook_pb2.Webhook) -> webhook_pb2.Webhook:
        w = _input(webhook)
        check(w)
        async with self._db.transaction() as conn:
            # Serialise creates per app so that the limit holds under concurrency.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('meeting.webhooks:' || $1))", app_id)
            if await store.count(conn, app_id) >= MAX_WEBHOOKS_PER_APP:
                raise _invalid([("app_id", f"an app can have at most {MAX_WEBHOOKS_PER_APP} webhooks")])
            created = await store.insert(conn, app_id, w)
        log.info("webhook_created", app_id=app_id, webhook_id=created.id, events=catalogue_names(created))
        return created

    async def get(self, app_id: str, webhook_id: str) -> webhook_pb2.Webhook:
        found = await store.get(self._db.pool, app_id, _uuid(webhook_id))
        if found is None:
            raise not_found(webhook_id)
        return found

    async def list(self, app_id: str, page_size: int, page_token: str) -> tuple[list[webhook_pb2.Webhook], str, int]:
        if page_size < 0:
            raise _invalid([("page_size", "must not be negative")])
        limit = min(page_size or PAGE_SIZE_MAX, PAGE_SIZE_MAX)
        offset = _page_offset(page_token)
        items, total = await store.list_(self._db.pool, app_id, offset=offset, limit=limit)
        nxt = offset + len(items)
        return items, (_page_token(nxt) if items and nxt < total else ""), total

    async def update(self, app_id: str, webhook_id: str, webhook: webhook_pb2.Webhook,
                     mask: field_mask_pb2.FieldMask) -> webhook_pb2.Webhook:
        wid = _uuid(webhook_id)
        paths = list(mask.paths)
        if not paths:
            raise _invalid([("update_mask", "is required and must name at least one field")])
        for path in paths:
            if path not in MUTABLE:
                raise _invalid([("update_mask", f"field {path!r} cannot be updated (one of {', '.join(MUTABLE)})")])
        async with self._db.transaction() as conn:
            current = await store.get(conn, app_id, wid, for_update=True)
            if current is None:
                raise not_found(webhook_id)
            merged = webhook_pb2.Webhook()
            merged.CopyFrom(current)
            for path in paths:
                if path == "events":
                    del merged.events[:]
                    merged.events.extend(webhook.events)
                elif path == "enabled":
                    merged.enabled = webhook.enabled if webhook.HasField("enabled") else True
                else:
                    setattr(merged, path, getattr(webhook, path))
            _normalize(merged)
            check(merged)
            updated = await store.update(conn, app_id, wid, merged)
        assert updated is not None
        log.info("webhook_updated", app_id=app_id, webhook_id=wid, fields=paths)
        return updated

    async def replace(self, app_id: str, webhook_id: str, webhook: webhook_pb2.Webhook) -> webhook_pb2.Webhook:
        wid = _uuid(webhook_id)
        w = _input(webhook)
        check(w)
        updated = await store.update(self._db.pool, app_id, wid, w)
        if updated is None:
            raise not_found(webhook_id)
        log.info("webhook_replaced", app_id=app_id, webhook_id=wid)
        return updated

    async def delete(self, app_id: str, webhook_id: str) -> webhook_pb2.Webhook:
        wid = _uuid(webhook_id)
        deleted = await store.delete(self._db.pool, app_id, wid)
        if deleted is None:
            raise not_found(webhook_id)
        log.info("webhook_deleted", app_id=app_id, webhook_id=wid)
        return deleted


def catalogue_names(webhook: webhook_pb2.Webhook) -> list[str]:
    return [catalogue.to_name(e) for e in webhook.events]
