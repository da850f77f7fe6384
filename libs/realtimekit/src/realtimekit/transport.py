"""The signaling socket: one aiohttp WebSocket to `{base_url}/v1/signal`.

Sends ClientMessages (protobuf JSON), matches replies to requests by `request_id`, hands every
incoming ServerMessage to a callback, sends heartbeats, and reports how the socket ended.
It knows nothing about meetings: reconnecting and state live in client.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from google.protobuf import json_format

from realtimekit import wire
from realtimekit.errors import CODE_NOT_CONNECTED, CODE_SOCKET_ERROR, CODE_TIMEOUT, ClientError, error_for

log = logging.getLogger("realtimekit.transport")

SIGNAL_PATH = "/v1/signal"
# Close codes the server uses for final outcomes (no reconnect).
CLOSE_AUTH_FAILED = 4001
CLOSE_REJECTED = 4003
FINAL_CLOSE_CODES = frozenset({CLOSE_AUTH_FAILED, CLOSE_REJECTED})


@dataclass(frozen=True, slots=True)
class SocketClosed:
    """How a socket ended: `code` (WebSocket close code, 1006 when the connection dropped),
    `initiated_locally` (we closed it), `last_error` (a final Error pushed before the close)."""

    code: int
    initiated_locally: bool
    last_error: wire.signal_pb2.Error | None = None


def websocket_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base.removeprefix("https://")
    elif base.startswith("http://"):
        base = "ws://" + base.removeprefix("http://")
    return base + SIGNAL_PATH


class SignalingSocket:
    """One connection. `await connect()`, then `request()` / `send()`; `on_message` gets every
    ServerMessage (replies included), `on_closed` is called once when the socket ends."""

    def __init__(
        self,
        base_url: str,
        auth_token: str,
        *,
        meeting_id: str = "",
        on_message: Callable[[wire.ServerMessage], None],
        on_closed: Callable[[SocketClosed], None],
        request_timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._url = websocket_url(base_url)
        self._token = auth_token
        self._meeting_id = meeting_id
        self._on_message = on_message
        self._on_closed = on_closed
        self._timeout = request_timeout
        self._own_session = session is None
        self._session = session
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._pending: dict[str, asyncio.Future[wire.ServerMessage]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._closing = False
        self._closed_reported = False
        self._last_error: wire.signal_pb2.Error | None = None
        self.heartbeat_interval = 10.0

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed and not self._closing

    async def connect(self) -> None:
        """Open the socket and confirm that the server accepted the token.

        The server verifies the token right after the upgrade and, when it refuses it, sends an
        error and closes. A heartbeat is the first request: its Ack proves acceptance.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession()
        params = {"meetingId": self._meeting_id} if self._meeting_id else None
        try:
            self._ws = await self._session.ws_connect(
                self._url,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                heartbeat=None,
                autoping=True,
                max_msg_size=4 * 1024 * 1024,
            )
        except (aiohttp.ClientError, OSError) as exc:
            await self._close_session()
            raise ClientError(CODE_SOCKET_ERROR, f"Cannot open the signaling socket: {exc}") from exc
        self._reader = asyncio.create_task(self._read(), name="realtimekit-signal-reader")
        await self.request(heartbeat=wire.signal_pb2.Heartbeat())

    def start_heartbeats(self, interval: float) -> None:
        self.heartbeat_interval = max(0.2, interval)
        if self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._beat(), name="realtimekit-heartbeat")

    async def request(self, timeout: float | None = None, **fields: Any) -> wire.ServerMessage:  # noqa: ASYNC109
        """Send one ClientMessage (a single oneof field, e.g. `chat_send=ChatSend(...)`) and wait
        for its reply. An Error reply raises ClientError."""
        if not self.connected:
            raise ClientError(CODE_NOT_CONNECTED, "The signaling socket is not connected.")
        request_id = f"r{next(self._ids)}"
        message = wire.ClientMessage(request_id=request_id, **fields)
        future: asyncio.Future[wire.ServerMessage] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._send_text(wire.encode(message))
            reply = await asyncio.wait_for(future, timeout or self._timeout)
        except TimeoutError:
            raise ClientError(CODE_TIMEOUT, f"No reply to {message.WhichOneof('message')} in time.") from None
        finally:
            self._pending.pop(request_id, None)
        if reply.HasField("error"):
            raise _error(reply.error)
        return reply

    async def send_raw(self, text: str) -> None:
        """Send a text frame as is (tests of the protocol's error handling)."""
        await self._send_text(text)

    async def _send_text(self, text: str) -> None:
        if self._ws is None or self._ws.closed:
            raise ClientError(CODE_NOT_CONNECTED, "The signaling socket is not connected.")
        try:
            await self._ws.send_str(text)
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            raise ClientError(CODE_SOCKET_ERROR, f"Send failed: {exc}") from exc

    async def close(self, code: int = 1000) -> None:
        """Close on purpose (leave, or giving up)."""
        self._closing = True
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await self._ws.close(code=code)
        await self._stop_tasks()
        self._report_closed(code, True)

    def abort(self) -> None:
        """Drop the connection without a close handshake, like a network failure would."""
        if self._ws is None:
            return
        transport = getattr(getattr(self._ws, "_writer", None), "transport", None)
        if transport is None and self._ws._response.connection is not None:  # noqa: SLF001
            transport = self._ws._response.connection.transport  # noqa: SLF001
        if transport is not None:
            transport.abort()

    async def _stop_tasks(self) -> None:
        current = asyncio.current_task()
        for task in (self._heartbeat, self._reader):
            if task is not None and task is not current and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self._close_session()

    async def _close_session(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()

    async def _read(self) -> None:
        assert self._ws is not None
        ws = self._ws
        try:
            async for frame in ws:
                if frame.type != aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    message = wire.decode(frame.data)
                except (json_format.ParseError, ValueError):
                    log.warning("ignoring an undecodable server message")
                    continue
                if message.HasField("error") and not message.request_id:
                    self._last_error = message.error
                future = self._pending.get(message.request_id) if message.request_id else None
                if future is not None and not future.done():
                    future.set_result(message)
                try:
                    self._on_message(message)
                except Exception:  # noqa: BLE001
                    log.exception("message handler failed")
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            pass
        finally:
            code = ws.close_code if ws.close_code is not None else 1006
            error = ClientError(CODE_SOCKET_ERROR, f"The signaling socket closed ({code}).")
            if self._last_error is not None:
                error = _error(self._last_error)
            for future in list(self._pending.values()):
                if not future.done():
                    future.set_exception(error)
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            self._report_closed(code, self._closing)

    async def _beat(self) -> None:
        while self.connected:
            await asyncio.sleep(self.heartbeat_interval)
            if not self.connected:
                return
            try:
                await self.request(timeout=max(self.heartbeat_interval, 5.0), heartbeat=wire.signal_pb2.Heartbeat())
            except ClientError as exc:
                if exc.code == CODE_TIMEOUT:  # the server stopped answering: treat as a drop
                    self.abort()
                    return
            except asyncio.CancelledError:
                raise

    def _report_closed(self, code: int, local: bool) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        self._on_closed(SocketClosed(code, local, self._last_error))


def _error(error: wire.signal_pb2.Error) -> ClientError:
    exc = error_for(error.reason, error.message or error.reason, **dict(error.metadata))
    if error.code and error.code[:1].isdigit():
        exc.code = error.code
    return exc
