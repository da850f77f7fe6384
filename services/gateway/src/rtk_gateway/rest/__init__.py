"""REST routers, RealtimeKit paths under /client/v4/accounts/{account_id}/realtime/kit/…"""

from __future__ import annotations

import importlib

from fastapi import APIRouter

# Each module exposes `router`; modules are optional while the API grows.
_MODULES = ["apps", "meetings", "presets", "participants", "wellknown", "webhooks", "sessions", "active_session", "recordings"]


def _load() -> list[APIRouter]:
    routers = []
    for name in _MODULES:
        module = importlib.import_module(f"rtk_gateway.rest.{name}")
        routers.append(module.router)
    return routers


ROUTERS: list[APIRouter] = _load()
