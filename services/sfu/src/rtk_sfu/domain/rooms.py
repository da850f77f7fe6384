"""The SFU's control plane: sessions on this node, their peers, what each publishes and
receives, and the enforcement of the orchestrator's decisions.

Transport-agnostic: the gRPC servicer (api/) calls in, the orchestrator and the peers are
reached through two ports given at construction (`authorize`, `notify`), and the media plane is
`rtk_sfu.media.MediaRouter`.

Each peer has two WebRTC connections (two router peers):

* publishing — router peer `<peer_id>`: the client offers (`publisher_offer`), the SFU answers.
  Every track label is authorized with `SessionService.AuthorizeProducer` before it is
  forwarded; a refused label is still negotiated (aiortc has no rollback, so a refused offer
  would wedge the client's connection) but the router drops its packets
  (`set_producer_allowed(False)`) and nobody is subscribed to it; the answer lists it in
  `refused` with a typed error.
* receiving — router peer `<peer_id>~sub`: the SFU offers (pushed as `ServerMessage.media_offer`
  on the peer's NATS subject), the client answers (`subscriber_answer`). One offerer per
  connection, so offers never cross (no glare).

Subscriptions follow from state, recomputed per session (`_reconcile`): every peer receives
every allowed track of every other peer of its session that its selection wants (default: all).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Counter, Gauge
from realtime.events.v1 import event_pb2
from realtime.session.v1 import session_pb2, stage_pb2
from realtime.signaling.v1 import signal_pb2
from rtkit.errors import ApiError
from rtkit.logging import get_logger

from rtk_sfu.domain.sdp import sending_labels
from rtk_sfu.media import MediaError, MediaRouter, PeerTransport

log = get_logger("rtk_sfu.rooms")
SIG = signal_pb2
S = session_pb2

LABEL_OF_KIND = {
    SIG.TRACK_KIND_AUDIO: "audio",
    SIG.TRACK_KIND_VIDEO: "video",
    SIG.TRACK_KIND_SCREENSHARE: "screenshare",
    SIG.TRACK_KIND_SCREENSHARE_AUDIO: "screenshare_audio",
}
KIND_OF_LABEL = {v: k for k, v in LABEL_OF_KIND.items()}
MEDIA_KIND_OF_LABEL = {
    "audio": S.MEDIA_KIND_AUDIO,
    "video": S.MEDIA_KIND_VIDEO,
    "screenshare": S.MEDIA_KIND_SCREENSHARE,
    "screenshare_audio": S.MEDIA_KIND_SCREENSHARE,
}
LABELS_OF_MEDIA_KIND = {
    S.MEDIA_KIND_AUDIO: ("audio",),
    S.MEDIA_KIND_VIDEO: ("video",),
    S.MEDIA_KIND_SCREENSHARE: ("screenshare", "screenshare_audio"),
}
ALL_LABELS = frozenset(LABEL_OF_KIND.values())
SUB_SUFFIX = "~sub"
# Client codes of refusals (as the orchestrator's signaling errors).
_CLIENT_CODES = {"PERMISSION_DENIED_BY_PRESET": "0101"}

PEERS = Gauge("rtk_sfu_session_peers", "Peers with media on this node")
SESSIONS = Gauge("rtk_sfu_sessions", "Sessions with media on this node")
REFUSALS = Counter("rtk_sfu_producers_refused_total", "Published tracks the orchestrator refused", ["reason"])
ENFORCED = Counter("rtk_sfu_enforcements_total", "Orchestrator decisions applied to media", ["action"])
OFFERS = Counter("rtk_sfu_server_offers_total", "SFU offers pushed for receiving connections", ["result"])
SPEAKERS = Counter("rtk_sfu_active_speaker_pushes_total", "activeSpeaker pushes (one per session change)")


@dataclass(frozen=True, slots=True)
class Authorization:
    """SessionService.AuthorizeProducer's answer."""

    allowed: bool
    reason: str = ""
    message: str = ""
    session_id: str = ""
    app_id: str = ""
    meeting_id: str = ""
    participant_id: str = ""


@dataclass(frozen=True, slots=True)
class PeerContext:
    """The relay's view of a peer (realtime.sfu.v1.PeerContext)."""

    peer_id: str
    session_id: str = ""
    app_id: str = ""
    meeting_id: str = ""
    participant_id: str = ""


Authorize = Callable[[str, int], Awaitable[Authorization]]
Notify = Callable[[str, signal_pb2.ServerMessage], Awaitable[None]]


class Selection:
    """Which remote tracks a peer wants: everything (minus exclusions) or a manual set."""

    def __init__(self) -> None:
        self.all = True
        self.all_labels: frozenset[str] = ALL_LABELS
        self.include: dict[str, set[str]] = {}  # manual mode: peer or user id → labels
        self.exclude: dict[str, set[str]] = {}  # all mode: peer or user id → labels

    def apply(self, change: signal_pb2.MediaSubscribe) -> None:
        labels = {LABEL_OF_KIND[k] for k in change.kinds if k in LABEL_OF_KIND} or set(ALL_LABELS)
        if "screenshare" in labels:  # a screen share's audio goes with its video
            labels.add("screenshare_audio")
        ids = [i for i in change.peer_ids if i]
        action = change.action or SIG.SUBSCRIBE_ACTION_ALL
        if action == SIG.SUBSCRIBE_ACTION_ALL:
            self.all, self.all_labels = True, frozenset(labels)
            self.include.clear()
            self.exclude.clear()
        elif action == SIG.SUBSCRIBE_ACTION_SET:
            self.all = False
            self.include = {i: set(labels) for i in ids}
            self.exclude.clear()
        elif action == SIG.SUBSCRIBE_ACTION_ADD:
            for i in ids:
                if self.all:
                    left = self.exclude.get(i, set()) - labels
                    if left:
                        self.exclude[i] = left
                    else:
                        self.exclude.pop(i, None)
                else:
                    self.include.setdefault(i, set()).update(labels)
        elif action == SIG.SUBSCRIBE_ACTION_REMOVE:
            for i in ids:
                if self.all:
                    self.exclude.setdefault(i, set()).update(labels)
                else:
                    left = self.include.get(i, set()) - labels
                    if left:
                        self.include[i] = left
                    else:
                        self.include.pop(i, None)
        else:
            raise ApiError("INVALID_FIELD", "Unknown subscribe action.", field="mediaSubscribe.action")

    def wants(self, peer_id: str, user_id: str, label: str) -> bool:
        if self.all:
            if label not in self.all_labels:
                return False
            return label not in self.exclude.get(peer_id, ()) and label not in self.exclude.get(user_id, ())
        return label in self.include.get(peer_id, ()) or label in self.include.get(user_id, ())


class MediaPeer:
    """One peer of a session on this node."""

    _ids = itertools.count(1)

    def __init__(self, room: Room, peer_id: str, participant_id: str) -> None:
        self.room = room
        self.peer_id = peer_id
        self.participant_id = participant_id
        self.pub_id = peer_id
        self.sub_id = peer_id + SUB_SUFFIX
        self.pub_connection_id = ""
        self.sub_connection_id = ""
        self.sub_negotiated = False  # the current receiving connection completed one offer/answer
        self.selection = Selection()
        self.allowed: dict[str, bool] = {}  # label → last authorization
        self.pub_lock = asyncio.Lock()
        self.negotiator: asyncio.Task[None] | None = None
        self.dirty = False
        self.answered: asyncio.Event | None = None
        self.pending_offer: signal_pb2.MediaOffer | None = None
        self.sent_tracks: tuple[tuple[str, str, int], ...] | None = None
        self.closed = False
        self.created = time.monotonic()

    def new_connection_id(self, role: str) -> str:
        return f"{role}-{next(self._ids)}"


class Room:
    """A session's media on this node."""

    def __init__(self, session_id: str, app_id: str, meeting_id: str) -> None:
        self.session_id = session_id
        self.app_id = app_id
        self.meeting_id = meeting_id
        self.peers: dict[str, MediaPeer] = {}
        self.reconciler: asyncio.Task[None] | None = None
        self.dirty = False
        self.speaker: str = ""
        self.speaker_volume = 0
        self.speaker_sent_at = -1e9
        self.speaker_sent: str = ""
        self.speaker_timer: asyncio.TimerHandle | None = None


@dataclass(slots=True)
class _Tracks:
    tracks: list[signal_pb2.MediaTrack] = field(default_factory=list)

    def key(self) -> tuple[tuple[str, str, int], ...]:
        return tuple(sorted((t.mid, t.peer_id, t.kind) for t in self.tracks))


class RoomManager:
    """Sessions and peers of this node; see the module docstring."""

    def __init__(
        self,
        router: MediaRouter,
        *,
        authorize: Authorize,
        notify: Notify,
        draining: Callable[[], bool] = lambda: False,
        speaker_interval: float = 0.3,
        answer_timeout: float = 8.0,
        offer_attempts: int = 3,
    ) -> None:
        self.router = router
        self._authorize = authorize
        self._notify = notify
        self._draining = draining
        self.speaker_interval = speaker_interval
        self.answer_timeout = answer_timeout
        self.offer_attempts = offer_attempts
        self.rooms: dict[str, Room] = {}
        self.peers: dict[str, MediaPeer] = {}
        self._creating: dict[str, asyncio.Future[MediaPeer]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        router.on_producer_added = self._on_producer_changed
        router.on_producer_removed = self._on_producer_changed
        router.on_active_speaker = self.on_active_speaker
        if hasattr(router, "group_of"):
            router.group_of = self.session_of  # per-session active speaker (SessionRouter)

    # -- lookups ------------------------------------------------------------------------------
    @property
    def peer_count(self) -> int:
        return len(self.peers)

    def session_of(self, transport_id: str) -> str | None:
        peer = self.peers.get(transport_id.removesuffix(SUB_SUFFIX))
        return peer.room.session_id if peer is not None else None

    def _peer_of_transport(self, transport_id: str) -> MediaPeer | None:
        return self.peers.get(transport_id.removesuffix(SUB_SUFFIX))

    # -- peers --------------------------------------------------------------------------------
    async def peer(self, ctx: PeerContext) -> MediaPeer:
        """The peer, created on first use after the orchestrator confirmed it is admitted."""
        if not ctx.peer_id:
            raise ApiError("INVALID_FIELD", "peer.peer_id is required.", field="peer.peer_id")
        existing = self.peers.get(ctx.peer_id)
        if existing is not None:
            if ctx.session_id and ctx.session_id != existing.room.session_id:
                raise ApiError("FORBIDDEN", "The peer belongs to another session.", peerId=ctx.peer_id)
            return existing
        pending = self._creating.get(ctx.peer_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[MediaPeer] = asyncio.get_running_loop().create_future()
        self._creating[ctx.peer_id] = future
        try:
            peer = await self._create(ctx)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning
            raise
        finally:
            self._creating.pop(ctx.peer_id, None)
        future.set_result(peer)
        return peer

    async def _create(self, ctx: PeerContext) -> MediaPeer:
        if self._draining():
            raise ApiError("NODE_DRAINING", "This media server is draining; it takes no new peers.",
                           peerId=ctx.peer_id)
        auth = await self._authorize(ctx.peer_id, S.MEDIA_KIND_AUDIO)
        if auth.reason in ("PEER_NOT_FOUND", "NOT_ADMITTED"):
            raise ApiError(auth.reason, auth.message or "The peer is not admitted to the session.",
                           peerId=ctx.peer_id)
        if not auth.session_id:
            raise ApiError("PEER_NOT_FOUND", "The orchestrator does not know this peer.", peerId=ctx.peer_id)
        if ctx.session_id and ctx.session_id != auth.session_id:
            raise ApiError("FORBIDDEN", "The peer belongs to another session.", peerId=ctx.peer_id)
        room = self.rooms.get(auth.session_id)
        if room is None:
            room = self.rooms[auth.session_id] = Room(auth.session_id, auth.app_id, auth.meeting_id)
            SESSIONS.set(len(self.rooms))
            log.info("sfu_session_opened", session_id=room.session_id, app_id=room.app_id,
                     meeting_id=room.meeting_id)
        peer = MediaPeer(room, ctx.peer_id, auth.participant_id or ctx.participant_id)
        peer.allowed["audio"] = auth.allowed
        room.peers[peer.peer_id] = peer
        self.peers[peer.peer_id] = peer
        PEERS.set(len(self.peers))
        log.info("sfu_peer_added", peer_id=peer.peer_id, session_id=room.session_id,
                 participant_id=peer.participant_id, peers=len(room.peers))
        self._schedule_reconcile(room)
        return peer

    async def remove_peer(self, peer_id: str, reason: str) -> bool:
        """Cut the peer at once and close its connections."""
        peer = self.peers.pop(peer_id, None)
        if peer is None:
            return False
        peer.closed = True
        PEERS.set(len(self.peers))
        if peer.negotiator is not None and not peer.negotiator.done():
            peer.negotiator.cancel()
        if peer.answered is not None:
            peer.answered.set()
        room = peer.room
        room.peers.pop(peer_id, None)
        await self.router.remove_peer(peer.pub_id)
        await self.router.remove_peer(peer.sub_id)
        log.info("sfu_peer_removed", peer_id=peer_id, session_id=room.session_id, reason=reason,
                 peers=len(room.peers))
        if room.peers:
            self._schedule_reconcile(room)
        else:
            self._close_room(room)
        return True

    def _close_room(self, room: Room) -> None:
        if self.rooms.get(room.session_id) is room:
            del self.rooms[room.session_id]
            SESSIONS.set(len(self.rooms))
            if room.speaker_timer is not None:
                room.speaker_timer.cancel()
            forget = getattr(self.router, "forget_group", None)
            if forget is not None:
                forget(room.session_id)
            log.info("sfu_session_closed", session_id=room.session_id)

    async def end_session(self, session_id: str, reason: str) -> int:
        room = self.rooms.get(session_id)
        if room is None:
            return 0
        ids = list(room.peers)
        for peer_id in ids:
            await self.remove_peer(peer_id, reason)
        self._close_room(room)
        return len(ids)

    async def close(self) -> None:
        for peer_id in list(self.peers):
            await self.remove_peer(peer_id, "shutdown")
        for task in list(self._tasks):
            task.cancel()

    # -- publishing connection ----------------------------------------------------------------
    async def publisher_offer(self, ctx: PeerContext, offer: signal_pb2.MediaOffer) -> signal_pb2.MediaAnswer:
        peer = await self.peer(ctx)
        async with peer.pub_lock:
            transport = self.router.get_peer(peer.pub_id)
            if transport is not None and (offer.new_connection or transport.closed):
                await self.router.remove_peer(peer.pub_id)
                transport = None
            if transport is None:
                if peer.pub_connection_id and not offer.new_connection:
                    raise ApiError("INVALID_FIELD", "The publishing connection is gone; offer a new one.",
                                   problem="mediaConnectionLost", field="mediaOffer.newConnection")
                transport = await self.router.add_peer(peer.pub_id)
                peer.pub_connection_id = peer.new_connection_id("pub")
            given = {t.mid: LABEL_OF_KIND[t.kind] for t in offer.tracks if t.mid and t.kind in LABEL_OF_KIND}
            labels = sending_labels(offer.sdp, given, transport.published())
            published = transport.published()
            # Authorize what is new or was blocked; keep what already flows.
            pending = [label for mid, label in labels.items()
                       if not (published.get(mid) == label and peer.allowed.get(label))]
            results = await asyncio.gather(*(self._authorize(peer.peer_id, MEDIA_KIND_OF_LABEL[label])
                                             for label in pending))
            refused: list[signal_pb2.TrackRefusal] = []
            mid_of = {label: mid for mid, label in labels.items()}
            for label, auth in zip(pending, results, strict=True):
                peer.allowed[label] = auth.allowed
                self.router.set_producer_allowed(peer.pub_id, label, auth.allowed)
                if not auth.allowed:
                    reason = auth.reason or "PERMISSION_DENIED_BY_PRESET"
                    REFUSALS.labels(reason).inc()
                    refused.append(signal_pb2.TrackRefusal(
                        mid=mid_of[label], kind=KIND_OF_LABEL[label],
                        error=signal_pb2.Error(code=_CLIENT_CODES.get(reason, reason), reason=reason,
                                               message=auth.message or f"You may not publish {label}.",
                                               metadata={"kind": label, "peerId": peer.peer_id})))
                    log.info("sfu_producer_refused", peer_id=peer.peer_id, session_id=peer.room.session_id,
                             kind=label, reason=reason)
            try:
                answer = await transport.handle_offer(offer.sdp, labels)
            except MediaError as exc:
                raise ApiError("INVALID_FIELD", f"The offer was not accepted: {exc}", problem="badOffer",
                               field="mediaOffer.sdp") from None
            accepted = [signal_pb2.MediaTrack(mid=mid, kind=KIND_OF_LABEL[label])
                        for mid, label in labels.items() if peer.allowed.get(label)]
            log.info("sfu_publisher_negotiated", peer_id=peer.peer_id, session_id=peer.room.session_id,
                     tracks=sorted(labels.values()), refused=[LABEL_OF_KIND[r.kind] for r in refused])
        self._schedule_reconcile(peer.room)
        return signal_pb2.MediaAnswer(sdp=answer, tracks=accepted, refused=refused,
                                      connection_id=peer.pub_connection_id)

    # -- receiving connection -----------------------------------------------------------------
    async def subscriber_answer(self, ctx: PeerContext, answer: signal_pb2.MediaAnswer) -> None:
        peer = self.peers.get(ctx.peer_id)
        if peer is None:
            raise ApiError("PEER_NOT_FOUND", "No media for this peer on this node.", peerId=ctx.peer_id)
        if answer.connection_id and answer.connection_id != peer.sub_connection_id:
            raise ApiError("INVALID_FIELD", "The answer is for a previous receiving connection.",
                           problem="staleConnection", field="mediaAnswer.connectionId")
        transport = self.router.get_peer(peer.sub_id)
        if transport is None:
            raise ApiError("INVALID_FIELD", "No receiving connection.", problem="noOfferPending",
                           field="mediaAnswer")
        try:
            await transport.handle_answer(answer.sdp)
        except MediaError as exc:
            raise ApiError("INVALID_FIELD", f"The answer was not accepted: {exc}", problem="noOfferPending",
                           field="mediaAnswer.sdp") from None
        peer.sub_negotiated = True
        if peer.answered is not None:
            peer.answered.set()

    async def subscribe(self, ctx: PeerContext, change: signal_pb2.MediaSubscribe) -> list[signal_pb2.MediaTrack]:
        peer = await self.peer(ctx)
        peer.selection.apply(change)
        if peer.pending_offer is not None:  # the client may have missed it (e.g. while resuming)
            await self._push(peer, signal_pb2.ServerMessage(media_offer=peer.pending_offer))
        elif peer.sent_tracks is not None:  # let it re-check the mapping
            peer.sent_tracks = None
        self._schedule_reconcile(peer.room)
        transport = self.router.get_peer(peer.sub_id)
        return self._received(peer, transport).tracks if transport is not None else []

    def _received(self, peer: MediaPeer, transport: PeerTransport) -> _Tracks:
        out = _Tracks()
        for info in transport.subscriptions():
            if info.mid is None:
                continue
            pub = self.peers.get(info.publisher_id)
            out.tracks.append(signal_pb2.MediaTrack(
                mid=info.mid, kind=KIND_OF_LABEL.get(info.kind, SIG.TRACK_KIND_UNSPECIFIED),
                peer_id=info.publisher_id, user_id=pub.participant_id if pub is not None else ""))
        return out

    # -- subscriptions --------------------------------------------------------------------------
    def _on_producer_changed(self, peer_id: str, kind: str) -> None:
        peer = self.peers.get(peer_id)
        if peer is not None:
            self._schedule_reconcile(peer.room)

    def _schedule_reconcile(self, room: Room) -> None:
        room.dirty = True
        if room.reconciler is None or room.reconciler.done():
            room.reconciler = self._spawn(self._reconcile_loop(room), f"sfu-reconcile-{room.session_id}")

    async def _reconcile_loop(self, room: Room) -> None:
        while room.dirty and self.rooms.get(room.session_id) is room:
            room.dirty = False
            try:
                await self._reconcile(room)
            except Exception:  # noqa: BLE001 - keep the room alive; the next change retries
                log.exception("sfu_reconcile_failed", session_id=room.session_id)

    async def _reconcile(self, room: Room) -> None:
        by_publisher: dict[str, list[str]] = {}
        for transport_id, label in self.router.producers():
            by_publisher.setdefault(transport_id, []).append(label)
        for sub in list(room.peers.values()):
            if sub.closed:
                continue
            desired: set[tuple[str, str]] = set()
            for pub in room.peers.values():
                if pub is sub or pub.closed:
                    continue
                for label in by_publisher.get(pub.pub_id, ()):
                    if pub.allowed.get(label) and sub.selection.wants(pub.peer_id, pub.participant_id, label):
                        desired.add((pub.pub_id, label))
            transport = self.router.get_peer(sub.sub_id)
            if transport is None or transport.closed:
                if not desired:
                    continue
                if transport is not None:
                    await self.router.remove_peer(sub.sub_id)
                transport = await self.router.add_peer(sub.sub_id)
                transport.on_negotiation_needed = lambda _t, p=sub: self._kick(p)
                sub.sub_connection_id = sub.new_connection_id("sub")
                sub.sub_negotiated = False
                sub.sent_tracks = None
                sub.pending_offer = None
            current = {(s.publisher_id, s.kind) for s in self.router.subscriptions(sub.sub_id)}
            changed = False
            for publisher_id, label in current - desired:
                changed |= self.router.unsubscribe(sub.sub_id, publisher_id, label)
            for publisher_id, label in sorted(desired - current):
                try:
                    self.router.subscribe(sub.sub_id, publisher_id, label)
                    changed = True
                except MediaError as exc:
                    log.warning("sfu_subscribe_failed", peer_id=sub.peer_id, publisher=publisher_id, kind=label,
                                error=str(exc))
            # A removed producer drops its subscriptions inside the router, so `changed` can be
            # False while the tracks this subscriber receives did change: compare with what it knows.
            if (changed or transport.negotiation_needed or sub.sent_tracks is None
                    or self._received(sub, transport).key() != sub.sent_tracks):
                self._kick(sub)

    # -- server-initiated negotiation of the receiving connection ---------------------------
    def _kick(self, peer: MediaPeer) -> None:
        if peer.closed:
            return
        peer.dirty = True
        if peer.negotiator is None or peer.negotiator.done():
            peer.negotiator = self._spawn(self._negotiate_loop(peer), f"sfu-negotiate-{peer.peer_id}")

    async def _negotiate_loop(self, peer: MediaPeer) -> None:
        while peer.dirty and not peer.closed:
            peer.dirty = False
            transport = self.router.get_peer(peer.sub_id)
            if transport is None or transport.closed:
                return
            while transport.negotiation_needed and not peer.closed:
                if not await self._offer(peer, transport):
                    return
            if peer.closed or transport.closed:
                return
            tracks = self._received(peer, transport)
            if tracks.key() != peer.sent_tracks and peer.sub_negotiated:
                peer.sent_tracks = tracks.key()
                await self._push(peer, signal_pb2.ServerMessage(media_tracks=signal_pb2.MediaTracks(
                    tracks=tracks.tracks, connection_id=peer.sub_connection_id)))

    async def _offer(self, peer: MediaPeer, transport: PeerTransport) -> bool:
        try:
            sdp = await transport.create_offer()
        except MediaError as exc:
            OFFERS.labels("error").inc()
            log.warning("sfu_offer_failed", peer_id=peer.peer_id, error=str(exc))
            return False
        tracks = self._received(peer, transport)
        offer = signal_pb2.MediaOffer(
            sdp=sdp, tracks=tracks.tracks, role=SIG.MEDIA_CONNECTION_ROLE_SUBSCRIBER,
            new_connection=not peer.sub_negotiated, connection_id=peer.sub_connection_id)
        peer.pending_offer = offer
        peer.answered = answered = asyncio.Event()
        for attempt in range(self.offer_attempts):
            await self._push(peer, signal_pb2.ServerMessage(media_offer=offer))
            try:
                await asyncio.wait_for(answered.wait(), self.answer_timeout)
                break
            except TimeoutError:
                log.warning("sfu_offer_unanswered", peer_id=peer.peer_id, attempt=attempt + 1)
        if peer.pending_offer is offer:
            peer.pending_offer = None
        if not answered.is_set() or peer.closed:
            OFFERS.labels("unanswered").inc()
            return False
        OFFERS.labels("answered").inc()
        peer.sent_tracks = tracks.key()
        return True

    async def _push(self, peer: MediaPeer, message: signal_pb2.ServerMessage) -> None:
        message.time.GetCurrentTime()
        try:
            await self._notify(peer.peer_id, message)
        except Exception as exc:  # noqa: BLE001 - NATS down: the client re-subscribes on resume
            log.warning("sfu_push_failed", peer_id=peer.peer_id, error=str(exc) or type(exc).__name__)

    # -- orchestrator decisions -------------------------------------------------------------
    async def on_event(self, event: event_pb2.Event) -> None:
        """Apply an orchestrator event (idempotent: events are at-least-once)."""
        which = event.WhichOneof("payload")
        if which == "participants_kicked":
            body = event.participants_kicked
            if self.rooms.get(body.session_id) is None:
                return
            if body.all:
                removed = await self.end_session(body.session_id, "kicked")
            else:
                removed = 0
                for peer_id in body.peer_ids:
                    removed += await self.remove_peer(peer_id, "kicked")
            if removed:
                ENFORCED.labels("kick").inc()
        elif which == "participants_muted":
            body = event.participants_muted
            for peer_id in body.peer_ids:
                peer = self.peers.get(peer_id)
                if peer is None:
                    continue
                labels = [label for kind in body.kinds for label in LABELS_OF_MEDIA_KIND.get(kind, ())]
                self._block(peer, labels, "muted")
                ENFORCED.labels("mute").inc()
        elif which == "stage_status_changed":
            body = event.stage_status_changed
            peer = self.peers.get(body.peer_id)
            if peer is None:
                return
            if body.status == stage_pb2.STAGE_STATUS_ON_STAGE:
                await self._reauthorize(peer)
                ENFORCED.labels("stage_on").inc()
            else:
                self._block(peer, ALL_LABELS, "off_stage")
                ENFORCED.labels("stage_off").inc()
        elif which == "participant_left":
            body = event.participant_left
            if await self.remove_peer(body.peer.id, "left"):
                ENFORCED.labels("left").inc()
        elif which == "session_ended":
            if await self.end_session(event.session_ended.session.id, "session_ended"):
                ENFORCED.labels("session_ended").inc()

    def _block(self, peer: MediaPeer, labels: Iterable[str], why: str) -> None:
        labels = sorted(set(labels))
        for label in labels:
            peer.allowed[label] = False
            self.router.set_producer_allowed(peer.pub_id, label, False)
        log.info("sfu_producers_blocked", peer_id=peer.peer_id, session_id=peer.room.session_id, why=why,
                 kinds=labels)
        self._schedule_reconcile(peer.room)

    async def _reauthorize(self, peer: MediaPeer) -> None:
        labels = sorted({label for transport_id, label in self.router.producers() if transport_id == peer.pub_id})
        results = await asyncio.gather(*(self._authorize(peer.peer_id, MEDIA_KIND_OF_LABEL[label])
                                         for label in labels))
        for label, auth in zip(labels, results, strict=True):
            if peer.closed:
                return
            peer.allowed[label] = auth.allowed
            self.router.set_producer_allowed(peer.pub_id, label, auth.allowed)
        self._schedule_reconcile(peer.room)

    # -- active speaker -------------------------------------------------------------------------
    def on_active_speaker(self, transport_id: str, level: float | None = None) -> None:
        peer = self._peer_of_transport(transport_id)
        if peer is None:
            return
        room = peer.room
        room.speaker = peer.peer_id
        room.speaker_volume = 0 if level is None else max(0, min(100, round(float(level) * 100 / 127)))
        wait = room.speaker_sent_at + self.speaker_interval - time.monotonic()
        if wait <= 0:
            self._send_speaker(room)
        elif room.speaker_timer is None:
            room.speaker_timer = asyncio.get_running_loop().call_later(wait, self._send_speaker, room)

    def _send_speaker(self, room: Room) -> None:
        room.speaker_timer = None
        if self.rooms.get(room.session_id) is not room or not room.speaker or room.speaker == room.speaker_sent:
            return
        room.speaker_sent = room.speaker
        room.speaker_sent_at = time.monotonic()
        SPEAKERS.inc()
        for peer in list(room.peers.values()):
            message = signal_pb2.ServerMessage(active_speaker=signal_pb2.ActiveSpeaker(
                peer_id=room.speaker, volume=room.speaker_volume))
            self._spawn(self._push(peer, message), "sfu-speaker")

    # -- diagnostics ----------------------------------------------------------------------------
    def describe(self, peer_id: str) -> dict[str, Any]:
        peer = self.peers.get(peer_id)
        if peer is None:
            raise ApiError("PEER_NOT_FOUND", "No media for this peer on this node.", peerId=peer_id)
        pub = self.router.get_peer(peer.pub_id)
        sub = self.router.get_peer(peer.sub_id)
        published, blocked = [], []
        if pub is not None:
            for mid, label in pub.published().items():
                track = signal_pb2.MediaTrack(mid=mid, kind=KIND_OF_LABEL[label])
                (published if peer.allowed.get(label) else blocked).append(track)
        return {
            "session_id": peer.room.session_id,
            "published": published,
            "blocked": blocked,
            "received": self._received(peer, sub).tracks if sub is not None else [],
            "publisher_state": pub.connection_state if pub is not None else "",
            "subscriber_state": sub.connection_state if sub is not None else "",
        }

    # -- tasks ----------------------------------------------------------------------------------
    def _spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("sfu_task_failed", task=task.get_name(), error=repr(task.exception()))
