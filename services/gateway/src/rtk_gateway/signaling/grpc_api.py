"""`realtime.signaling.v1.SignalingService.Connect`: the signaling connection for backends.

Same handler as the WebSocket; messages are binary protobuf. The participant token comes from
metadata `authorization: Bearer <token>` or the first request's `auth_token`. A refused token
yields one `error` ServerMessage, then the stream ends with UNAUTHENTICATED (with ErrorInfo).
"""

from __future__ import annotations

import asyncio
import contextlib

from realtime.signaling.v1 import signaling_service_pb2, signaling_service_pb2_grpc
from rtkit.errors import ApiError

from rtk_gateway.signaling import messages
from rtk_gateway.signaling.handler import ClientDetails, Relay
from rtk_gateway.signaling.transport import GrpcStreamSink

SERVICE_NAME = signaling_service_pb2.DESCRIPTOR.services_by_name["SignalingService"].full_name


class SignalingServicer(signaling_service_pb2_grpc.SignalingServiceServicer):
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def Connect(self, request_iterator, context):  # noqa: N802, ANN001, ANN201
        metadata = {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}
        scheme, _, token = metadata.get("authorization", "").partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        meeting_id = metadata.get("x-rtk-meeting-id", "")
        first: signaling_service_pb2.ConnectRequest | None = None
        if not token:
            first = await anext(aiter(request_iterator), None)
            if first is not None:
                token, meeting_id = first.auth_token, first.meeting_id or meeting_id
        sink = GrpcStreamSink()
        connection = self.relay.connection(sink, ClientDetails(ip_address=_peer_host(context.peer()),
                                                               user_agent=metadata.get("user-agent", "")))
        if not await connection.authenticate(token, meeting_id):
            async for response in sink.responses():
                yield response
            await connection.transport_closed()
            refused = connection.auth_error
            raise ApiError(refused.reason if refused else "TOKEN_INVALID", refused.message if refused else "Refused.")

        async def read() -> None:
            try:
                if first is not None and first.HasField("message"):
                    await connection.receive(first.message)
                async for request in request_iterator:
                    if sink.closed:
                        break
                    if request.HasField("message"):
                        await connection.receive(request.message)
                    else:
                        await connection.receive_invalid(
                            messages.DecodeError(messages.UNKNOWN_MESSAGE, "ConnectRequest.message is required.")
                        )
            finally:
                # The client finished (or the call broke): the transport is gone.
                await connection.transport_closed()

        reader = asyncio.create_task(read(), name=f"signal-grpc-{connection.socket_session_id}")
        try:
            async for response in sink.responses():
                yield response
        finally:
            if not reader.done():
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
            # Shielded: the call itself may be the thing being cancelled (client went away).
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.shield(asyncio.ensure_future(connection.transport_closed()))


def _peer_host(peer: str) -> str:
    # "ipv4:127.0.0.1:5555" / "ipv6:[::1]:5555"
    kind, _, rest = (peer or "").partition(":")
    host = rest.rsplit(":", 1)[0] if rest else ""
    return host.strip("[]")
