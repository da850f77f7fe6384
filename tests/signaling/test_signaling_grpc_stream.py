"""The backend transport: gRPC SignalingService.Connect, same protocol as the WebSocket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
from realtime.signaling.v1 import signal_pb2, signaling_service_pb2, signaling_service_pb2_grpc
from signaling_helpers import joined

S = signal_pb2


class Bot:
    """A backend peer on one Connect stream."""

    def __init__(self, stub: signaling_service_pb2_grpc.SignalingServiceStub, token: str,
                 metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.outbox: asyncio.Queue[signaling_service_pb2.ConnectRequest | None] = asyncio.Queue()
        self.inbox: asyncio.Queue[signal_pb2.ServerMessage] = asyncio.Queue()
        first = signaling_service_pb2.ConnectRequest(auth_token=token) if not metadata else None
        self.call = stub.Connect(self._requests(first), metadata=metadata)
        self.reader = asyncio.create_task(self._read())

    async def _requests(self, first) -> AsyncIterator[signaling_service_pb2.ConnectRequest]:  # noqa: ANN001
        if first is not None:
            yield first
        while (item := await self.outbox.get()) is not None:
            yield item

    async def _read(self) -> None:
        async for response in self.call:
            await self.inbox.put(response.message)

    def send(self, request_id: str, **fields: object) -> None:
        self.outbox.put_nowait(signaling_service_pb2.ConnectRequest(
            message=S.ClientMessage(request_id=request_id, **fields)))

    async def expect(self, predicate, within: float = 10.0) -> signal_pb2.ServerMessage:  # noqa: ANN001
        async def _next() -> signal_pb2.ServerMessage:
            while True:
                message = await self.inbox.get()
                if predicate(message):
                    return message
        return await asyncio.wait_for(_next(), within)


@pytest.fixture
async def signaling(stack) -> AsyncIterator[signaling_service_pb2_grpc.SignalingServiceStub]:
    async with grpc.aio.insecure_channel(stack.grpc["gateway"]) as channel:
        yield signaling_service_pb2_grpc.SignalingServiceStub(channel)


async def test_backend_peer_over_grpc(api, connect, signaling):
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    bot = Bot(signaling, await api.token(meeting_id, "group_call_participant", "Bot"))

    arrived = host.participants.wait_for("participantJoined", lambda p: p.name == "Bot")
    bot.send("j", join=S.JoinRequest(display_name="Bot"))
    reply = await bot.expect(lambda m: m.request_id == "j")
    assert reply.join_response.room_state == 2 and host.self.id in [p.id for p in reply.join_response.participants]
    bot_peer = (await arrived).id
    assert bot_peer == reply.join_response.peer_id

    # Pushes reach the stream; its messages reach the WebSocket peers.
    await host.chat.send_text_message("hello bot")
    pushed = await bot.expect(lambda m: m.HasField("chat_message") and m.chat_message.message == "hello bot")
    assert pushed.chat_message.peer_id == host.self.id
    heard = host.chat.wait_for("chatUpdate", lambda u: u["message"].message == "hello host")
    bot.send("c", chat_send=S.ChatSend(message="hello host"))
    assert (await bot.expect(lambda m: m.request_id == "c")).chat_message.message == "hello host"
    await heard

    # Out of order and forbidden actions get errors; the stream stays open.
    bot.send("k", kick=S.KickRequest(all=True))
    assert (await bot.expect(lambda m: m.request_id == "k")).error.reason == "PERMISSION_DENIED_BY_PRESET"
    bot.send("h", heartbeat=S.Heartbeat())
    assert (await bot.expect(lambda m: m.request_id == "h")).HasField("ack")

    gone = host.participants.wait_for("participantLeft", lambda p: p.id == bot_peer)
    bot.send("l", leave=S.LeaveRequest())
    assert (await bot.expect(lambda m: m.request_id == "l")).HasField("ack")
    await gone
    await asyncio.wait_for(bot.reader, 10)  # the server ends the stream after a leave
    bot.outbox.put_nowait(None)


async def test_grpc_refuses_a_bad_token(signaling):
    bot = Bot(signaling, "", metadata=(("authorization", "Bearer garbage"),))
    error = await bot.expect(lambda m: m.HasField("error"))
    assert error.error.code == "0004" and error.error.reason == "TOKEN_INVALID"
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        await bot.reader
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED
    bot.outbox.put_nowait(None)
