"""`GET {gateway}/v1/signal` (WebSocket): the SDK's signaling connection.

Auth: the participant token as query parameter `authToken` (what browsers can send) or as
header `Authorization: Bearer <token>`; optional `meetingId` query parameter, which must then
match the token. The token is verified right after the upgrade, before any message is read; a
refused token gets one `error` message and close code 4001.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from rtk_gateway.signaling import messages
from rtk_gateway.signaling.handler import ClientDetails, Relay
from rtk_gateway.signaling.transport import WebSocketSink

router = APIRouter()

PATH = "/v1/signal"


def _token(websocket: WebSocket) -> str:
    token = websocket.query_params.get("authToken") or websocket.query_params.get("auth_token") or ""
    if not token:
        scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = value.strip()
    return token.strip()


@router.websocket(PATH)
async def signal(websocket: WebSocket) -> None:
    relay: Relay = websocket.app.state.signaling
    await websocket.accept()
    sink = WebSocketSink(websocket)
    client = websocket.client
    details = ClientDetails(ip_address=client.host if client else "",
                            user_agent=websocket.headers.get("user-agent", ""))
    connection = relay.connection(sink, details)
    try:
        if not await connection.authenticate(_token(websocket), websocket.query_params.get("meetingId", "")):
            return
        while not sink.closed:
            try:
                frame = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                break
            if frame["type"] == "websocket.disconnect":
                break
            text = frame.get("text")
            if text is None:
                await connection.receive_invalid(
                    messages.DecodeError(messages.BINARY_FRAME, "Binary frames are not supported; send JSON text.")
                )
                continue
            try:
                message = messages.decode_json(text)
            except messages.DecodeError as problem:
                await connection.receive_invalid(problem)
                continue
            await connection.receive(message)
    finally:
        await connection.transport_closed()
