"""Shared helpers of the webhook tests: a local HTTP receiver, event builders, signature checks."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from google.protobuf import timestamp_pb2
from realtime.events.v1 import event_pb2, session_events_pb2
from realtime.session.v1 import peer_pb2, session_pb2
from rtkit.bus import EventBus, event_subject

T = TypeVar("T")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered


@dataclass
class Receiver:
    """An aiohttp server on 127.0.0.1; `respond(request_number, rtk_uuid) -> status` decides answers."""

    respond: Callable[[int, str], int] = lambda n, u: 200
    delay: float = 0.0
    hits: list[Received] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None
    _changed: asyncio.Condition | None = None

    async def start(self) -> Receiver:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.respond(len(self.hits), request.headers.get("rtk-uuid", ""))
        self.hits.append(Received({k.lower(): v for k, v in request.headers.items()}, body, status))
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        return web.Response(status=status, text="ok" if status < 300 else "nope")

    async def wait_for(self, predicate: Callable[[list[Received]], bool], within: float = 20.0) -> list[Received]:
        assert self._changed is not None
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.hits)), within)
        return list(self.hits)

    def delivered(self) -> dict[str, Received]:
        """rtk-uuid → the first 2xx-answered request."""
        out: dict[str, Received] = {}
        for hit in self.hits:
            if 200 <= hit.status < 300:
                out.setdefault(hit.headers["rtk-uuid"], hit)
        return out


async def eventually(read: Callable[[], Awaitable[T]], predicate: Callable[[T], bool], within: float = 10.0) -> T:
    """Poll `read()` until `predicate` holds (the worker records an outcome just after the POST)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await read()
        if predicate(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.05)


def verify(public_key_pem: str, body: bytes, signature_b64: str) -> None:
    """RSASSA-PKCS1-v1_5 / SHA-256 over the raw body (raises InvalidSignature)."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    key.verify(base64.b64decode(signature_b64), body, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]


def ts(value: dt.datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


T0 = dt.datetime(2026, 3, 2, 10, 0, 0, 123000, tzinfo=dt.UTC)


def session(app_id: str, meeting_id: str, session_id: str, *, ended: bool = False,
            reason: int = 0) -> session_pb2.Session:
    s = session_pb2.Session(
        id=session_id, app_id=app_id, meeting_id=meeting_id, meeting_display_name="title at start",
        status=session_pb2.SESSION_STATUS_ENDED if ended else session_pb2.SESSION_STATUS_LIVE,
        start_time=ts(T0),
    )
    if ended:
        s.end_time.CopyFrom(ts(T0 + dt.timedelta(minutes=30)))
        s.end_reason = reason
    return s


def peer(app_id: str, meeting_id: str, session_id: str, n: int, *, left: bool = False) -> peer_pb2.Peer:
    p = peer_pb2.Peer(
        id=f"peer-{n}", session_id=session_id, app_id=app_id, meeting_id=meeting_id,
        participant_id=str(uuid.uuid4()), custom_participant_id=f"cust-{n}", display_name=f"User {n}",
        join_time=ts(T0 + dt.timedelta(seconds=n)),
    )
    if left:
        p.leave_time.CopyFrom(ts(T0 + dt.timedelta(minutes=10, seconds=n)))
    return p


def event(app_id: str, kind: str, payload: object) -> event_pb2.Event:
    e = event_pb2.Event(event_id=str(uuid.uuid4()), app_id=app_id, occur_time=ts(dt.datetime.now(dt.UTC)))
    getattr(e, kind).CopyFrom(payload)
    return e


def started(app_id: str, meeting_id: str, session_id: str) -> event_pb2.Event:
    return event(app_id, "session_started",
                 session_events_pb2.SessionStarted(session=session(app_id, meeting_id, session_id)))


def ended(app_id: str, meeting_id: str, session_id: str) -> event_pb2.Event:
    reason = session_pb2.SESSION_END_REASON_ALL_PARTICIPANTS_LEFT
    return event(app_id, "session_ended", session_events_pb2.SessionEnded(
        session=session(app_id, meeting_id, session_id, ended=True, reason=reason), reason=reason))


def joined(app_id: str, meeting_id: str, session_id: str, n: int) -> event_pb2.Event:
    return event(app_id, "participant_joined", session_events_pb2.SessionParticipantJoined(
        session=session(app_id, meeting_id, session_id), peer=peer(app_id, meeting_id, session_id, n)))


def left(app_id: str, meeting_id: str, session_id: str, n: int) -> event_pb2.Event:
    return event(app_id, "participant_left", session_events_pb2.SessionParticipantLeft(
        session=session(app_id, meeting_id, session_id), peer=peer(app_id, meeting_id, session_id, n, left=True)))


def chat_synced(app_id: str, meeting_id: str, session_id: str) -> event_pb2.Event:
    return event(app_id, "chat_synced", session_events_pb2.ChatSynced(
        session=session(app_id, meeting_id, session_id, ended=True,
                        reason=session_pb2.SESSION_END_REASON_HOST_ENDED_MEETING),
        chat_download_url="https://files.example/chat.csv", chat_download_url_expiry=1_800_000_000,
        message_count=3))


async def publish(bus: EventBus, meeting_id: str, e: event_pb2.Event) -> None:
    kind = e.WhichOneof("payload")
    assert kind is not None
    await bus.publish(event_subject(e.app_id, "meetings", meeting_id, kind), e, event_id=e.event_id)
