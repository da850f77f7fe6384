"""A small event emitter with RealtimeKit's camelCase event names and snake_case aliases.

`on("roomJoined", cb)` and `on("room_joined", cb)` register for the same event. Callbacks may
be plain functions or coroutine functions; coroutines run as tasks so that a callback may call
SDK methods (which await server replies) without blocking the receive loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

Listener = Callable[..., Any]

_log = logging.getLogger("realtimekit")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def canonical(event: str) -> str:
    """The snake_case form of an event name (`roomJoined` → `room_joined`)."""
    if "_" in event or event.islower():
        return event
    return _CAMEL.sub("_", event).lower()


class EventEmitter:
    """`on`, `once`, `off`, `emit`, plus `wait_for` for code (and tests) that wait on events."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[Listener, bool]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, event: str, listener: Listener) -> Listener:
        self._listeners.setdefault(canonical(event), []).append((listener, False))
        return listener

    add_listener = on

    def once(self, event: str, listener: Listener) -> Listener:
        self._listeners.setdefault(canonical(event), []).append((listener, True))
        return listener

    def off(self, event: str, listener: Listener | None = None) -> None:
        key = canonical(event)
        if listener is None:
            self._listeners.pop(key, None)
            return
        self._listeners[key] = [(fn, once) for fn, once in self._listeners.get(key, []) if fn is not listener]

    remove_listener = off

    def remove_all_listeners(self, event: str | None = None) -> None:
        if event is None:
            self._listeners.clear()
        else:
            self._listeners.pop(canonical(event), None)

    def listener_count(self, event: str) -> int:
        return len(self._listeners.get(canonical(event), []))

    def emit(self, event: str, *args: Any) -> None:
        key = canonical(event)
        direct = list(self._listeners.get(key, []))
        wildcard = list(self._listeners.get("*", [])) if key != "*" else []
        if not direct and not wildcard:
            return
        if any(once for _, once in direct):
            self._listeners[key] = [(fn, once) for fn, once in self._listeners.get(key, []) if not once]
        calls = [(fn, args) for fn, _ in direct] + [(fn, (key, *args)) for fn, _ in wildcard]
        for fn, call_args in calls:
            try:
                result = fn(*call_args)
            except Exception:  # noqa: BLE001 - a listener must not break the SDK
                _log.exception("listener for %s failed", key)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def wait_for(
        self,
        event: str,
        predicate: Callable[..., bool] | None = None,
        timeout: float | None = 10.0,
    ) -> Awaitable[Any]:
        """Arm a wait for the next `event` whose arguments satisfy `predicate`, and return an
        awaitable of its first argument (a tuple when it has several, None when none).

        The listener is registered at call time, so `w = x.wait_for(...); await act(); await w`
        cannot miss an event that `act()` causes."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()

        def _listener(*args: Any) -> None:
            if future.done():
                return
            try:
                if predicate is not None and not predicate(*args):
                    return
            except Exception as exc:  # noqa: BLE001 - surface predicate bugs to the waiter
                future.set_exception(exc)
                return
            future.set_result(args[0] if len(args) == 1 else (args or None))

        self.on(event, _listener)

        async def _wait() -> Any:
            try:
                return await asyncio.wait_for(future, timeout)
            finally:
                self.off(event, _listener)

        return _wait()
