"""Signal handling: one `Connection` per client transport, one `Relay` per gateway process.

The relay is dumb and safe. It verifies the participant token (AuthService) before anything
else, turns `join` / `leave` / `heartbeat` into their SessionService RPCs, forwards every other
ClientMessage to SessionService.HandleClientMessage and returns the reply, and relays every
ServerMessage the orchestrator publishes on `realtime.signal.v1.peers.<peer_id>`. It decides
nothing about the session: visibility, permissions and state live in the orchestrator.

What the relay does enforce is the protocol: message size, well-formedness, order (join
first), per-connection rate limits, heartbeats, and the transport lifecycle (a lost transport
is DisconnectPeer, so the peer can resume within the resume window; a resumed peer's previous
connection on this gateway is superseded and never reports a loss).

Transports (transport.py) and message builders (messages.py) are separate, so the same handler
serves the WebSocket and the gRPC stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
from prometheus_client import Counter, Gauge
from realtime.auth.v1 import auth_service_pb2
from realtime.gateway.v1 import placement_pb2
from realtime.session.v1 import peer_pb2, session_pb2, session_service_pb2
from realtime.sfu.v1 import sfu_service_pb2, sfu_service_pb2_grpc
from realtime.signaling.v1 import signal_pb2
from rtkit.clients import channel, internal_metadata
from rtkit.errors import ApiError, decode_rpc_error
from rtkit.logging import get_logger

from rtk_gateway.signaling import limits, messages
from rtk_gateway.signaling.ratelimit import RateLimiter
from rtk_gateway.signaling.transport import (
    CLOSE_AUTH_FAILED,
    CLOSE_GOING_AWAY,
    CLOSE_HEARTBEAT_TIMEOUT,
    CLOSE_NORMAL,
    CLOSE_REJECTED,
    SignalSink,
)

log = get_logger("rtk_gateway.signaling")

SUBJECT_PREFIX = "realtime.signal.v1.peers."

CONNECTIONS = Gauge("rtk_signal_connections", "Open signaling connections", ["transport"])
MESSAGES = Counter("rtk_signal_client_messages_total", "Client signaling messages", ["kind", "outcome"])
MEDIA_CALLS = Counter("rtk_signal_media_calls_total", "Media messages relayed to an SFU", ["kind", "outcome"])

MEDIA_KINDS = frozenset({"media_offer", "media_answer", "media_subscribe"})

_RS = session_pb2.RoomState
TERMINAL_STATES = frozenset({_RS.ROOM_STATE_REJECTED, _RS.ROOM_STATE_KICKED, _RS.ROOM_STATE_LEFT,
                             _RS.ROOM_STATE_ENDED})
_CLOSE_FOR_STATE = {_RS.ROOM_STATE_LEFT: CLOSE_NORMAL}


def peer_subject(peer_id: str) -> str:
    return SUBJECT_PREFIX + peer_id


class AuthFailed(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Claims:
    app_id: str
    meeting_id: str
    participant_id: str
    preset_id: str
    token_id: str
    exp: int


@dataclass(slots=True)
class ClientDetails:
    """What the transport knows about the remote end (never taken from the client's word)."""

    ip_address: str = ""
    user_agent: str = ""


class Relay:
    """Process-wide dependencies plus the peers connected to this gateway."""

    def __init__(
        self,
        *,
        auth: Any,
        sessions: Any,
        nats: Any,
        internal_token: str,
        rpc_timeout: float = 10.0,
        placer: Any = None,
        sfu_timeout: float = 15.0,
    ) -> None:
        self.auth = auth
        self.sessions = sessions
        self.nats = nats
        self.metadata = internal_metadata(internal_token)
        self.rpc_timeout = rpc_timeout
        self.placer = placer  # rtk_gateway.placement.Placer; None = no media
        self.sfu_timeout = sfu_timeout
        self.peers: dict[str, Connection] = {}
        self.connections: set[Connection] = set()
        self._sfus: dict[str, tuple[grpc.aio.Channel, sfu_service_pb2_grpc.SfuServiceStub]] = {}

    def sfu(self, address: str) -> sfu_service_pb2_grpc.SfuServiceStub:
        """SfuService of the node at `address` (one channel per node, kept)."""
        entry = self._sfus.get(address)
        if entry is None:
            ch = channel(address)
            entry = self._sfus[address] = (ch, sfu_service_pb2_grpc.SfuServiceStub(ch))
        return entry[1]

    async def close_sfus(self) -> None:
        sfus, self._sfus = self._sfus, {}
        for ch, _ in sfus.values():
            with contextlib.suppress(Exception):
                await ch.close()

    def connection(self, sink: SignalSink, client: ClientDetails | None = None) -> Connection:
        return Connection(self, sink, client or ClientDetails())

    async def verify(self, token: str, meeting_id: str = "") -> Claims:
        """AuthService.VerifyParticipantToken: signature, expiry, revocation, meeting (active)."""
        if not token:
            raise AuthFailed("TOKEN_MISSING", "Missing participant auth token.")
        request = auth_service_pb2.VerifyParticipantTokenRequest(token=token)
        if meeting_id:
            request.meeting_id = meeting_id
        try:
            response = await self.auth.VerifyParticipantToken(
                request, metadata=self.metadata, timeout=self.rpc_timeout
            )
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            reason = decoded.reason or "DEPENDENCY_UNAVAILABLE"
            if reason in ("INVALID_FIELD",):
                reason = "TOKEN_INVALID"
            raise AuthFailed(reason, decoded.message) from None
        c = response.claims
        return Claims(c.org_id, c.meeting_id, c.participant_id, c.preset_id, c.token_id, c.exp)

    async def close(self) -> None:
        """Gateway stopping: close every transport (peers may resume through another replica)."""
        for conn in list(self.connections):
            await conn.sink.close(CLOSE_GOING_AWAY, "server shutting down")


@dataclass
class _Subscription:
    sub: Any = None
    buffering: bool = True
    buffer: list[signal_pb2.ServerMessage] = field(default_factory=list)


class Connection:
    """One client transport: authenticate, then handle messages in order until it closes."""

    def __init__(self, relay: Relay, sink: SignalSink, client: ClientDetails) -> None:
        self.relay = relay
        self.sink = sink
        self.client = client
        self.socket_session_id = str(uuid.uuid4())
        self.claims: Claims | None = None
        self.peer_id: str | None = None
        self.room_state: int = _RS.ROOM_STATE_INIT
        self.terminal = False
        self.superseded = False
        self.heartbeat_interval = float(limits.DEFAULT_HEARTBEAT_INTERVAL_SECONDS)
        self.last_seen = time.monotonic()
        self.limiter = RateLimiter(limits.RATES)
        self._subscription: _Subscription | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False
        self._in_flight = 0  # a request is being handled: a terminal push waits for its reply
        self.auth_error: AuthFailed | None = None
        self.session_id = ""
        self.location_hint: Any = None  # placement.LocationHint from join.location
        self.placement: placement_pb2.Placement | None = None
        self.log = log.bind(socket_session_id=self.socket_session_id, transport=sink.kind)

    # -- lifecycle ---------------------------------------------------------------------------

    async def authenticate(self, token: str, meeting_id: str = "") -> bool:
        """Verify the token before anything else; on failure send a typed error and close."""
        self.relay.connections.add(self)
        CONNECTIONS.labels(self.sink.kind).inc()
        try:
            self.claims = await self.relay.verify(token, meeting_id)
        except AuthFailed as exc:
            self.auth_error = exc
            MESSAGES.labels("auth", exc.reason).inc()
            self.log.info("signal_auth_refused", reason=exc.reason)
            with contextlib.suppress(ConnectionError):
                await self.sink.send(messages.error(exc.reason, exc.message))
            self.terminal = True
            await self.sink.close(CLOSE_AUTH_FAILED, exc.reason)
            return False
        self.log = self.log.bind(meeting_id=self.claims.meeting_id, app_id=self.claims.app_id,
                                 participant_id=self.claims.participant_id)
        self._watchdog = asyncio.create_task(self._watch(), name=f"signal-watchdog-{self.socket_session_id}")
        return True

    async def transport_closed(self) -> None:
        """The transport is gone (client closed it, network loss, or we closed it)."""
        if self._closed:
            return
        self._closed = True
        self.relay.connections.discard(self)
        CONNECTIONS.labels(self.sink.kind).dec()
        if self._watchdog is not None:
            self._watchdog.cancel()
        await self._unsubscribe()
        peer_id = self.peer_id
        owner = self.relay.peers.get(peer_id) if peer_id else None
        if peer_id and owner is self:
            del self.relay.peers[peer_id]
        if peer_id and owner is self and not self.terminal and not self.superseded:
            self.log.info("signal_transport_lost", peer_id=peer_id)
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self.relay.sessions.DisconnectPeer(
                    session_service_pb2.DisconnectPeerRequest(peer_id=peer_id),
                    metadata=self.relay.metadata,
                    timeout=self.relay.rpc_timeout,
                )
        await self.sink.close()

    async def _watch(self) -> None:
        """Close connections that never join, or that stop sending heartbeats."""
        while not self._closed:
            now = time.monotonic()
            if self.peer_id is None:
                deadline = self.last_seen + limits.JOIN_TIMEOUT_SECONDS
                message = "Idle before join: send join, or heartbeats until then."
            else:
                deadline = self.last_seen + self.heartbeat_interval * limits.HEARTBEAT_MISSES
                message = "No heartbeat within the heartbeat timeout."
            if now >= deadline:
                self.log.info("signal_heartbeat_timeout", peer_id=self.peer_id)
                with contextlib.suppress(ConnectionError):
                    await self.sink.send(messages.error("INVALID_FIELD", message, problem=messages.HEARTBEAT_TIMEOUT))
                await self.sink.close(CLOSE_HEARTBEAT_TIMEOUT, "heartbeat timeout")
                await self.transport_closed()
                return
            await asyncio.sleep(min(max(deadline - now, 0.05), 1.0))

    # -- client → server ---------------------------------------------------------------------

    async def receive_invalid(self, problem: messages.DecodeError) -> None:
        self.last_seen = time.monotonic()
        MESSAGES.labels("invalid", problem.problem).inc()
        await self._send(problem.to_server_message())

    async def receive(self, message: signal_pb2.ClientMessage) -> None:
        """Handle one client message (in arrival order)."""
        self.last_seen = time.monotonic()
        kind = messages.kind_of(message)
        request_id = message.request_id
        try:
            messages.check_binary(message)
        except messages.DecodeError as exc:
            await self.receive_invalid(exc)
            return
        limited = self.limiter.take(kind)
        if limited is not None:
            MESSAGES.labels(kind, "rate_limited").inc()
            await self._send(messages.rate_limited(request_id, limited))
            return
        handler = self._HANDLERS.get(kind, Connection._forward)
        self._in_flight += 1
        try:
            reply = await handler(self, message)
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            reason = decoded.reason or (
                "DEPENDENCY_UNAVAILABLE" if decoded.code in (grpc.StatusCode.UNAVAILABLE,
                                                             grpc.StatusCode.DEADLINE_EXCEEDED) else "INTERNAL"
            )
            if reason == "INTERNAL":
                self.log.warning("signal_rpc_failed", kind=kind, code=decoded.code.name, error=decoded.message)
            reply = messages.error(reason, decoded.message, request_id=request_id, **decoded.metadata)
        finally:
            self._in_flight -= 1
        MESSAGES.labels(kind, "error" if reply is not None and reply.HasField("error") else "ok").inc()
        if reply is not None:
            await self._send(messages.stamp(reply, request_id))
        await self._after_reply()

    async def _join(self, message: signal_pb2.ClientMessage) -> signal_pb2.ServerMessage | None:
        assert self.claims is not None
        if self.peer_id is not None:
            return messages.error("INVALID_FIELD", "This connection has already joined.",
                                  request_id=message.request_id, problem=messages.ALREADY_JOINED)
        join = message.join
        self.location_hint = _location_hint(join)
        resuming = bool(join.resume_token)
        if resuming and not join.peer_id:
            return messages.error("INVALID_FIELD", "join.peerId is required with join.resumeToken.",
                                  request_id=message.request_id, field="join.peerId")
        peer_id = join.peer_id if resuming else str(uuid.uuid4())
        # Subscribe before JoinSession (nothing published for the peer is lost), but hold what
        # arrives until the join (and so the resume token) is accepted.
        subscription = await self._subscribe(peer_id)
        client = peer_pb2.ClientInfo()
        client.CopyFrom(join.client)
        client.ip_address = self.client.ip_address
        if not client.user_agent:
            client.user_agent = self.client.user_agent[:512]
        request = session_service_pb2.JoinSessionRequest(
            app_id=self.claims.app_id,
            meeting_id=self.claims.meeting_id,
            participant_id=self.claims.participant_id,
            preset_id=self.claims.preset_id,
            token_id=self.claims.token_id,
            peer_id=peer_id,
            resume_token=join.resume_token,
            display_name=join.display_name,
            client=client,
            socket_session_id=self.socket_session_id,
        )
        try:
            response = await self.relay.sessions.JoinSession(
                request, metadata=self.relay.metadata, timeout=self.relay.rpc_timeout
            )
        except BaseException:
            await self._unsubscribe()
            raise
        joined = response.join
        self.peer_id = joined.peer_id or peer_id
        if self.peer_id != peer_id:  # the orchestrator chose another id: follow it
            await self._unsubscribe()
            subscription = await self._subscribe(self.peer_id)
        self.room_state = joined.room_state
        if joined.heartbeat_interval_seconds > 0:
            self.heartbeat_interval = float(joined.heartbeat_interval_seconds)
        previous = self.relay.peers.get(self.peer_id)
        self.relay.peers[self.peer_id] = self
        self.session_id = joined.session_id or self.session_id
        self.log = self.log.bind(peer_id=self.peer_id, session_id=joined.session_id)
        await self._attach_placement(joined)
        self.log.info("signal_joined", room_state=session_pb2.RoomState.Name(joined.room_state),
                      reconnected=joined.reconnected, sfu_node=joined.media.node_id or None)
        if previous is not None and previous is not self:
            previous.superseded = True
            await previous.sink.close(CLOSE_NORMAL, "superseded by a resumed connection")
            await previous.transport_closed()
        reply = messages.join_reply(joined, message.request_id)
        await self._send(reply)
        # Release what was published while joining, in order, then go live.
        while subscription.buffer:
            await self._deliver(subscription.buffer.pop(0))
        subscription.buffering = False  # no await since the loop's last check: nothing overtakes
        return None

    async def _leave(self, message: signal_pb2.ClientMessage) -> signal_pb2.ServerMessage | None:
        if self.peer_id is None:
            return self._not_joined(message)
        self.terminal = True
        await self.relay.sessions.LeavePeer(
            session_service_pb2.LeavePeerRequest(peer_id=self.peer_id),
            metadata=self.relay.metadata,
            timeout=self.relay.rpc_timeout,
        )
        self.room_state = _RS.ROOM_STATE_LEFT
        if self.placement is not None:  # cut the media now (the SFU also follows participant_left)
            with contextlib.suppress(grpc.aio.AioRpcError):
                await self.relay.sfu(self.placement.advertised_address).RemovePeer(
                    sfu_service_pb2.RemovePeerRequest(peer_id=self.peer_id, reason="left"),
                    metadata=self.relay.metadata, timeout=2.0)
        return messages.ack(message.request_id)

    async def _heartbeat(self, message: signal_pb2.ClientMessage) -> signal_pb2.ServerMessage | None:
        if self.peer_id is None:  # before join: keep the socket alive, nothing to tell the session
            return messages.ack(message.request_id)
        try:
            await self.relay.sessions.PeerHeartbeat(
                session_service_pb2.PeerHeartbeatRequest(peer_id=self.peer_id),
                metadata=self.relay.metadata,
                timeout=self.relay.rpc_timeout,
            )
        except grpc.aio.AioRpcError as exc:
            decoded = decode_rpc_error(exc)
            if decoded.reason == "PEER_NOT_FOUND":  # the peer is gone: so is this connection
                self.terminal = True
                await self._send(messages.error("PEER_NOT_FOUND", decoded.message, request_id=message.request_id))
                await self.sink.close(CLOSE_REJECTED, "peer gone")
                return None
            raise
        return messages.ack(message.request_id)

    async def _forward(self, message: signal_pb2.ClientMessage) -> signal_pb2.ServerMessage | None:
        if self.peer_id is None:
            return self._not_joined(message)
        response = await self.relay.sessions.HandleClientMessage(
            session_service_pb2.HandleClientMessageRequest(peer_id=self.peer_id, message=message),
            metadata=self.relay.metadata,
            timeout=self.relay.rpc_timeout,
        )
        reply = response.reply
        if reply.HasField("join_response"):  # sync
            self._track_state(reply.join_response.room_state)
        if not reply.WhichOneof("message"):
            return messages.ack(message.request_id)
        return reply

    # -- media: placement and relay to the session's SFU --------------------------------------

    async def _attach_placement(self, joined: signal_pb2.JoinResponse) -> None:
        """Place the session's media (admitted peers only) and tell the client where it is."""
        if joined.room_state != _RS.ROOM_STATE_JOINED or self.relay.placer is None:
            return
        try:
            placement = await self._place()
        except ApiError as exc:
            self.log.warning("signal_media_unplaced", reason=exc.reason, error=exc.message)
            return
        joined.media.CopyFrom(signal_pb2.MediaPlacement(
            node_id=placement.node_id, region=placement.region, reason=placement.reason,
            location_source=placement.location_source, distance_km=placement.distance_km))

    async def _place(self) -> placement_pb2.Placement:
        if self.placement is not None:
            return self.placement
        if self.relay.placer is None:
            raise ApiError("NO_SFU_CAPACITY", "This gateway has no media servers configured.")
        if not self.session_id:
            raise ApiError("NOT_ADMITTED", "Join the session before using media.")
        placement = await self.relay.placer.place(self.session_id, ip=self.client.ip_address or None,
                                                  hint=self.location_hint)
        self.placement = placement
        self.log.info("signal_media_placed", node_id=placement.node_id, region=placement.region,
                      reason=placement_pb2.PlacementReason.Name(placement.reason),
                      location_source=placement.location_source, distance_km=placement.distance_km)
        return placement

    async def _media(self, message: signal_pb2.ClientMessage) -> signal_pb2.ServerMessage | None:
        """media_offer / media_answer / media_subscribe → the session's SFU (SfuService)."""
        if self.peer_id is None:
            return self._not_joined(message)
        kind = messages.kind_of(message)
        request_id = message.request_id
        if self.room_state != _RS.ROOM_STATE_JOINED:
            return messages.error("NOT_ADMITTED", f"Only admitted peers may send {kind}.", request_id=request_id,
                                  problem=messages.NOT_JOINED)
        try:
            placement = await self._place()
        except ApiError as exc:
            MEDIA_CALLS.labels(kind, exc.reason).inc()
            return messages.error(exc.reason, exc.message, request_id=request_id, **exc.metadata)
        assert self.claims is not None
        peer = sfu_service_pb2.PeerContext(
            peer_id=self.peer_id, session_id=self.session_id, app_id=self.claims.app_id,
            meeting_id=self.claims.meeting_id, participant_id=self.claims.participant_id)
        stub = self.relay.sfu(placement.advertised_address)
        options = {"metadata": self.relay.metadata, "timeout": self.relay.sfu_timeout}
        try:
            if kind == "media_offer":
                response = await stub.Negotiate(
                    sfu_service_pb2.NegotiateRequest(peer=peer, offer=message.media_offer), **options)
                reply = signal_pb2.ServerMessage(request_id=request_id, media_answer=response.answer)
            elif kind == "media_answer":
                await stub.Negotiate(sfu_service_pb2.NegotiateRequest(peer=peer, answer=message.media_answer),
                                     **options)
                reply = messages.ack(request_id)
            else:
                await stub.Subscribe(sfu_service_pb2.SubscribeRequest(peer=peer, selection=message.media_subscribe),
                                     **options)
                reply = messages.ack(request_id)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                self.placement = None  # the node may be gone: place again next time
            MEDIA_CALLS.labels(kind, exc.code().name).inc()
            raise
        MEDIA_CALLS.labels(kind, "ok").inc()
        return reply

    def _not_joined(self, message: signal_pb2.ClientMessage) -> signal_pb2.ServerMessage:
        return messages.error(
            "NOT_ADMITTED",
            f"Send join before {messages.kind_of(message)}.",
            request_id=message.request_id,
            problem=messages.NOT_JOINED,
        )

    _HANDLERS: dict[str, Callable[[Connection, signal_pb2.ClientMessage], Awaitable[Any]]] = {
        "join": _join,
        "leave": _leave,
        "heartbeat": _heartbeat,
        "media_offer": _media,
        "media_answer": _media,
        "media_subscribe": _media,
    }

    async def _after_reply(self) -> None:
        if self.terminal and not self.sink.closed:
            await self._unsubscribe()
            await self.sink.close(_CLOSE_FOR_STATE.get(self.room_state, CLOSE_REJECTED),
                                  session_pb2.RoomState.Name(self.room_state))

    # -- server → client ---------------------------------------------------------------------

    async def _send(self, message: signal_pb2.ServerMessage) -> None:
        with contextlib.suppress(ConnectionError):
            await self.sink.send(message)

    async def _subscribe(self, peer_id: str) -> _Subscription:
        subscription = _Subscription()
        self._subscription = subscription

        async def on_message(msg: Any) -> None:
            try:
                pushed = signal_pb2.ServerMessage.FromString(msg.data)
            except Exception:  # noqa: BLE001 - never let one bad payload stop the relay
                self.log.warning("signal_bad_payload", subject=msg.subject)
                return
            if subscription.buffering:
                subscription.buffer.append(pushed)
                return
            if self._subscription is subscription:
                await self._deliver(pushed)

        subscription.sub = await self.relay.nats.subscribe(peer_subject(peer_id), cb=on_message)
        return subscription

    async def _unsubscribe(self) -> None:
        subscription, self._subscription = self._subscription, None
        if subscription is not None and subscription.sub is not None:
            with contextlib.suppress(Exception):
                await subscription.sub.unsubscribe()

    def _track_state(self, state: int) -> None:
        if state:
            self.room_state = state
        if state in TERMINAL_STATES:
            self.terminal = True

    async def _deliver(self, pushed: signal_pb2.ServerMessage) -> None:
        """Forward one message published for this peer; terminal room states end the connection."""
        if pushed.HasField("room_state"):
            self._track_state(pushed.room_state.state)
        elif pushed.HasField("join_response"):  # admitted from the waiting room
            self._track_state(pushed.join_response.room_state)
            self.session_id = pushed.join_response.session_id or self.session_id
            await self._attach_placement(pushed.join_response)
        await self._send(messages.stamp(pushed))
        if self.terminal and not self._in_flight:  # else _after_reply closes, after the reply
            await self._unsubscribe()
            await self.sink.close(_CLOSE_FOR_STATE.get(self.room_state, CLOSE_REJECTED),
                                  session_pb2.RoomState.Name(self.room_state))


def _location_hint(join: signal_pb2.JoinRequest) -> Any:
    """The client's location hint (JoinRequest.location) as a placement.LocationHint, or None."""
    if not join.HasField("location"):
        return None
    from rtk_gateway.placement import LocationHint

    hint = join.location
    region = hint.region.strip() if hint.HasField("region") else None
    lat = hint.latitude if hint.HasField("latitude") else None
    lon = hint.longitude if hint.HasField("longitude") else None
    if lat is not None and lon is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat = lon = None
    if (lat is None) != (lon is None):
        lat = lon = None
    if not region and lat is None:
        return None
    return LocationHint(region=region or None, latitude=lat, longitude=lon)
