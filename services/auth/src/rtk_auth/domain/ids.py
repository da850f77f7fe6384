"""Identifier helpers: ids are UUIDs; malformed ones are rejected before they reach SQL."""

from __future__ import annotations

import uuid

from rtkit.errors import invalid_field


def new_id() -> str:
    return str(uuid.uuid4())


def is_uuid(value: str) -> bool:
    if len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def require_uuid(field: str, value: str) -> str:
    if not value:
        raise invalid_field(field, "required")
    if not is_uuid(value):
        raise invalid_field(field, "must be a UUID")
    return value.lower()


def require_name(field: str, value: str, *, max_length: int = 255, default: str | None = None) -> str:
    value = value.strip()
    if not value:
        if default is not None:
            return default
        raise invalid_field(field, "required")
    if len(value) > max_length:
        raise invalid_field(field, f"at most {max_length} characters")
    return value
