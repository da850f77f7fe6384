"""Transports: where a connection's ServerMessages go and how it is closed.

The handler (handler.py) only knows the `SignalSink` protocol, so the same handler serves the
SDK WebSocket (protobuf JSON mapping, one text frame per message) and the backend gRPC stream
(binary protobuf). A sink is swappable: on a reconnect the resumed peer gets a new sink
(LiveKit's signalling split: handling / transport / message builders).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from realtime.signaling.v1 import signal_pb2, signaling_service_pb2
from starlette.websockets import WebSocket, WebSocketState

from rtk_gateway.signaling import messages

# WebSocket close codes (4000-4999 are private use, RFC 6455 §7.4.2).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_AUTH_FAILED = 4001
CLOSE_REJECTED = 4003  # waiting room rejected / kicked / session ended
CLOSE_HEARTBEAT_TIMEOUT = 4008
CLOSE_RATE_LIMITED = 4029
CLOSE_SERVER_ERROR = 1011


class SignalSink(Protocol):
    """One client connection's outgoing side."""

    kind: str

    async def send(self, message: signal_pb2.ServerMessage) -> None:
        """Deliver one message; raises ConnectionError when the transport is gone."""

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close the transport (idempotent)."""

    @property
    def closed(self) -> bool: ...


class WebSocketSink:
    """ServerMessages as protobuf-JSON text frames on a Starlette WebSocket."""

    kind = "websocket"

    def __init__(self, websocket: WebSocket) -> None:
        self._ws = websocket
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed or self._ws.application_state == WebSocketState.DISCONNECTED

    async def send(self, message: signal_pb2.ServerMessage) -> None:
        if self.closed:
            raise ConnectionError("websocket closed")
        text = messages.encode_json(message)
        async with self._lock:
            try:
                await self._ws.send_text(text)
            except Exception as exc:  # noqa: BLE001 - any send failure means the transport is gone
                self._closed = True
                raise ConnectionError(str(exc)) from exc

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            await self._ws.close(code=code, reason=reason[:120])


class GrpcStreamSink:
    """ServerMessages wrapped in ConnectResponse, queued for the response iterator of a gRPC stream."""

    kind = "grpc"

    _CLOSE = object()

    def __init__(self, max_queue: int = 1024) -> None:
        self._queue: asyncio.Queue[object] = asyncio.Queue(max_queue)
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, message: signal_pb2.ServerMessage) -> None:
        if self._closed:
            raise ConnectionError("stream closed")
        try:
            self._queue.put_nowait(signaling_service_pb2.ConnectResponse(message=message))
        except asyncio.QueueFull as exc:  # a backend that stops reading loses its stream
            self._closed = True
            raise ConnectionError("stream consumer too slow") from exc

    async def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(self._CLOSE)

    async def responses(self):  # noqa: ANN201 - async iterator of ConnectResponse
        while True:
            item = await self._queue.get()
            if item is self._CLOSE:
                return
            yield item
