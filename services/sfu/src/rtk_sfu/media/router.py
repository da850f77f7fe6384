"""Public API of the media plane: ``MediaRouter`` and ``PeerTransport``.

The router knows peers (one ``RTCPeerConnection`` each), the tracks they publish (labelled
``audio | video | screenshare | screenshare_audio``) and who is subscribed to what. It knows
nothing of rooms, meetings or signaling: the control plane calls these methods and carries the
SDP strings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aioice.ice
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription, clock
from aiortc.rtcdtlstransport import RTCDtlsTransport

from ._compat import DTLS_ATTRS, check_instance, mark_sfu_receiver
from .forwarder import Egress, IngressTrack, capabilities_for, codec_key
from .ice import IceConfig, PortAllocator, announce_address, configure_connection
from .metrics import COUNTERS, register_router
from .rtp import U32, find_mid, parse_header
from .srtp import lean_unprotect

logger = logging.getLogger("rtk_sfu.media")

TRACK_KINDS = ("audio", "video", "screenshare", "screenshare_audio")
MEDIA_KIND = {"audio": "audio", "video": "video", "screenshare": "video", "screenshare_audio": "audio"}


class NegotiationGate:
    """Runs the SDP negotiation steps of all peers one at a time, first come first served.

    A step (``handle_offer``, ``create_offer``, ``handle_answer``) is a few ms of CPU with a few
    awaits inside aiortc (candidate gathering, transport start). When a burst of peers negotiates
    at once, asyncio interleaves all of them at every await, so every one of them finishes at the
    end of the burst (48 subscribers joining together all got their offer after ~all 48 offers'
    CPU). In order, the k-th finishes after k steps and its ICE/DTLS starts while later ones are
    still being negotiated. A step that waits on the network (STUN/TURN gathering, mDNS) holds the
    gate at most ``hold`` seconds; the others then proceed and it completes concurrently.
    """

    def __init__(self, hold: float = 0.025) -> None:
        self._lock = asyncio.Lock()
        self._hold = hold

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._lock.acquire()
        held = [True]

        def release() -> None:
            if held[0]:
                held[0] = False
                self._lock.release()

        timer = asyncio.get_running_loop().call_later(self._hold, release)
        try:
            yield
        finally:
            timer.cancel()
            release()


class MediaError(Exception):
    """Invalid call for the current state (unknown peer/track, negotiation in progress, …)."""


@dataclass(frozen=True)
class MediaConfig:
    ice: IceConfig = field(default_factory=IceConfig)
    #: video codecs accepted from publishers, in preference order (mime subtypes)
    video_codecs: Sequence[str] = ("VP8", "H264")
    audio_codecs: Sequence[str] = ("opus",)
    #: an upstream PLI not answered by a keyframe within this many seconds is repeated (requests
    #: meanwhile are served by the keyframe on its way: one PLI per publisher track in flight)
    pli_interval: float = 0.5
    #: once its keyframe arrived, the next PLI of a track may follow this soon after the previous
    #: one (a subscriber joining just after a keyframe gets its own promptly)
    pli_min_interval: float = 0.05
    #: a subscriber still waiting for a keyframe after this long triggers another PLI
    keyframe_retry: float = 1.0
    #: per video subscriber stream, packets kept for NACK (power of two)
    history_size: int = 512
    #: send REMB to publishers (aiortc's receive-side estimator); costs CPU per video packet
    remb: bool = True
    #: active speaker evaluation period and silence threshold (RFC 6464 level, -dBov)
    speaker_interval: float = 0.3
    speaker_silence_dbov: int = 70
    housekeeping_interval: float = 0.1
    #: decrypt and dispatch incoming SRTP inside the socket callback (skips aioice's queue)
    fast_receive: bool = True
    #: connect() each peer's UDP socket to its nominated ICE address (cheaper sends; datagrams
    #: from any other address, e.g. after a NAT rebinding, are then dropped by the kernel)
    connect_udp: bool = True

    def __post_init__(self) -> None:
        if self.history_size & (self.history_size - 1):
            raise ValueError("history_size must be a power of two")


@dataclass(frozen=True)
class MediaLoad:
    """Load numbers for the node heartbeat."""

    peers: int
    published_tracks: int
    subscriptions: int
    packets_in_per_s: float
    packets_out_per_s: float
    bits_out_per_s: float


@dataclass(frozen=True)
class TrackInfo:
    """What a subscriber's m-line currently carries (the control plane tells the client)."""

    mid: str | None
    publisher_id: str
    kind: str


class ParkedTrack(MediaStreamTrack):
    """Placeholder for a sendonly transceiver: parks the stock sender loop (no 20 ms polling);
    the forwarder writes the packets itself."""

    def __init__(self, kind: str, track_id: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        if track_id:
            self._id = track_id

    async def recv(self) -> Any:
        await asyncio.get_running_loop().create_future()


class Subscription:
    """A (subscriber, publisher, kind) forwarding relation, carried by an ``Egress``."""

    def __init__(
        self, router: MediaRouter, subscriber_id: str, publisher_id: str, kind: str, egress: Egress
    ) -> None:
        self._router = router
        self.subscriber_id = subscriber_id
        self.publisher_id = publisher_id
        self.kind = kind
        self.egress = egress

    @property
    def mid(self) -> str | None:
        """The subscriber-side m-line (None until the offer carrying it was created)."""
        return self.egress.mid

    @property
    def active(self) -> bool:
        """True once the stream is negotiated, connected and attached to the publisher."""
        e = self.egress
        return e.bound and e.source is not None and e.subscription is self

    def __repr__(self) -> str:
        return f"Subscription({self.subscriber_id} <- {self.publisher_id}/{self.kind}, mid={self.mid})"


class _TransportTap:
    """Replaces ``RTCDtlsTransport._handle_rtp_data`` of an SFU connection: routes decrypted
    RTP by SSRC straight to the publisher's ``IngressTrack`` (no RtpPacket, no jitter buffer)."""

    def __init__(self, peer: PeerTransport, dtls: RTCDtlsTransport) -> None:
        check_instance(dtls, DTLS_ATTRS)
        self.peer = peer
        self.dtls = dtls
        self.routes: dict[int, tuple[Callable[[bytes, int, bool], None], bool]] = {}
        dtls._handle_rtp_data = self.handle  # type: ignore[method-assign]

    async def handle(self, data: bytes, arrival_time_ms: int) -> None:
        self.handle_sync(data, arrival_time_ms)

    def handle_sync(self, data: bytes, arrival_time_ms: int) -> None:
        if len(data) < 12:
            return
        r = self.routes.get(U32.unpack_from(data, 8)[0])
        if r is None:
            r = self._learn(data)
            if r is None:
                COUNTERS.rtp_packets_unrouted += 1
                return
        r[0](data, arrival_time_ms, r[1])

    def install_fast_receive(self) -> None:
        """Decrypt + dispatch SRTP synchronously in the socket callback.

        Stock path per datagram: StunProtocol.datagram_received tries a STUN parse, queues the
        datagram on an asyncio.Queue, the RTCDtlsTransport task wakes up, unprotects and awaits
        the RTP handler. Here RTP (not RTCP, not STUN, not DTLS) skips the queue and the task
        switch; everything else still takes the stock path.
        """
        conn = self.dtls.transport._connection
        for proto in list(conn._protocols):
            if type(proto) is not aioice.ice.StunProtocol or getattr(proto, "_rtk_fast", False):
                continue
            proto._rtk_fast = True
            proto.datagram_received = self._make_fast_receive(proto.datagram_received)

    def _make_fast_receive(self, orig: Callable[[bytes, Any], None]) -> Callable[[bytes, Any], None]:
        dtls = self.dtls
        handle = self.handle_sync
        current_ms = clock.current_ms
        state: list[Any] = [None, None]  # rx session, its lean unprotect

        def datagram_received(data: bytes, addr: Any) -> None:
            b = data[0] if data else 0
            if 127 < b < 192 and len(data) > 12 and not (191 < data[1] < 224):
                srtp = dtls._rx_srtp
                if srtp is not None:
                    if state[0] is not srtp:
                        state[0], state[1] = srtp, lean_unprotect(srtp)
                    plain = state[1](data)
                    if plain is not None:
                        handle(plain, current_ms())
                    else:
                        COUNTERS.srtp_unprotect_failures += 1
                    return
            orig(data, addr)

        return datagram_received

    def _learn(self, data: bytes) -> tuple[Callable[[bytes, int, bool], None], bool] | None:
        try:
            b1, _seq, _ts, xs, xe, _ps, _pe = parse_header(data)
        except Exception:
            return None
        ssrc = U32.unpack_from(data, 8)[0]
        pt = b1 & 0x7F
        ingresses = [i for i in self.peer._ingress_by_mid.values() if not i.closed]
        ing: IngressTrack | None = None
        # 1. SSRCs declared with a=ssrc (registered by aiortc's RtpRouter at receive())
        receiver = self.dtls._rtp_router.ssrc_table.get(ssrc)
        if receiver is not None:
            ing = next((i for i in ingresses if i.receiver is receiver), None)
        # 2. MID header extension
        if ing is None:
            mid_id = next(
                (
                    x.id
                    for i in ingresses
                    for x in i.transceiver._headerExtensions
                    if x.uri.endswith("sdes:mid")
                ),
                0,
            )
            mid = find_mid(data, xs, xe, mid_id)
            if mid is not None:
                ing = self.peer._ingress_by_mid.get(mid)
        # 3. payload type owned by exactly one publisher track
        if ing is None:
            owners = [i for i in ingresses if pt in i.codecs]
            if len(owners) == 1:
                ing = owners[0]
        if ing is None or pt not in ing.codecs:
            return None
        is_rtx = pt in ing.rtx_apt
        if is_rtx:
            declared = ing.receiver._RTCRtpReceiver__rtx_ssrc.get(ssrc)
            if declared is None and ing.media_ssrc is None:
                return None  # cannot tell which stream this repairs yet
            ing.rtx_ssrc = ssrc
            if ing.media_ssrc is None:
                ing.media_ssrc = declared
        else:
            ing.media_ssrc = ssrc
        route = (ing.on_rtp, is_rtx)
        self.routes[ssrc] = route
        return route

    def forget(self, ingress: IngressTrack) -> None:
        for ssrc, (fn, _) in list(self.routes.items()):
            if getattr(fn, "__self__", None) is ingress:
                del self.routes[ssrc]


class PeerTransport:
    """One peer's ``RTCPeerConnection`` on the SFU.

    Client-initiated negotiation (publishing): ``handle_offer(sdp, labels) -> answer``.
    Server-initiated (subscriptions added/removed): ``negotiation_needed`` becomes True and
    ``on_negotiation_needed`` is called; the control plane then calls ``create_offer()`` and
    passes the client's answer to ``handle_answer()``. Gathering is complete in every SDP
    produced here (no trickle).
    """

    def __init__(self, router: MediaRouter, peer_id: str) -> None:
        self.router = router
        self.peer_id = peer_id
        self.pc = RTCPeerConnection(router.config.ice.rtc_configuration())
        self.on_negotiation_needed: Callable[[PeerTransport], Any] | None = None
        self.closed = False
        self._lock = asyncio.Lock()
        self._negotiation_needed = False
        self._ingress_by_mid: dict[str, IngressTrack] = {}
        self._egresses: list[Egress] = []  # have a transceiver
        self._pending: list[Egress] = []  # need one (next offer)
        self._taps: dict[int, _TransportTap] = {}
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    # -- state -------------------------------------------------------------------------------
    @property
    def connection_state(self) -> str:
        return self.pc.connectionState

    @property
    def negotiation_needed(self) -> bool:
        return self._negotiation_needed and not self.closed

    def published(self) -> dict[str, str]:
        """mid -> track kind of what this peer publishes."""
        return {mid: i.kind for mid, i in self._ingress_by_mid.items() if not i.closed}

    def subscriptions(self) -> list[TrackInfo]:
        """What each of this peer's receiving m-lines currently carries."""
        out = []
        for e in self._egresses + self._pending:
            sub = e.subscription
            if sub is not None:
                out.append(TrackInfo(mid=e.mid, publisher_id=sub.publisher_id, kind=sub.kind))
        return out

    def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed") and not self.closed:
            self.router._peer_failed(self)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # Emitted inside setRemoteDescription, before receive() starts the decoder thread.
        for t in self.pc.getTransceivers():
            if t.receiver.track is track:
                mark_sfu_receiver(t.receiver)

    def _request_negotiation(self) -> None:
        if self._negotiation_needed or self.closed:
            return
        self._negotiation_needed = True
        cb = self.on_negotiation_needed
        if cb is not None:
            res = cb(self)
            if asyncio.iscoroutine(res):
                self.router._spawn(res)

    def _configure_ice(self) -> None:
        cfg = self.router.config.ice
        for t in self.pc.getTransceivers():
            ice = t.sender.transport.transport
            configure_connection(ice._connection, cfg, self.router._ports)

    def _local_sdp(self) -> str:
        cfg = self.router.config.ice
        return announce_address(self.pc.localDescription.sdp, cfg.addresses, cfg.announced_address)

    def _install_taps(self) -> None:
        for t in self.pc.getTransceivers():
            dtls = t.receiver.transport
            if id(dtls) not in self._taps:
                self._taps[id(dtls)] = _TransportTap(self, dtls)

    def _install_fast_receive(self) -> None:
        if not self.router.config.fast_receive:
            return
        for tap in self._taps.values():
            tap.install_fast_receive()

    # -- client-initiated negotiation --------------------------------------------------------
    async def handle_offer(self, sdp: str, labels: Mapping[str, str] | None = None) -> str:
        """Apply a client offer and return the answer SDP.

        ``labels`` maps the offer's mids to track kinds (``audio | video | screenshare |
        screenshare_audio``); unlabelled sending m-lines default to ``audio``/``video`` and then
        ``screenshare_audio``/``screenshare`` for a second one of the same media kind.
        """
        labels = dict(labels or {})
        self._validate_offer(sdp, labels)
        async with self._lock, self.router._gate.slot():
            if self.closed:
                raise MediaError("peer is closed")
            if self.pc.signalingState != "stable":
                raise MediaError(f"cannot take an offer in signaling state {self.pc.signalingState}")
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            publishing: list[RTCRtpTransceiver] = []
            for t in self.pc.getTransceivers():
                if t.receiver.track is not None:
                    mark_sfu_receiver(t.receiver)
                if t.direction in ("recvonly", "sendrecv") and t._offerDirection in ("recvonly", "sendrecv"):
                    self._restrict_codecs(t)
                    publishing.append(t)
            self._configure_ice()
            self._install_taps()
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            self._install_fast_receive()
            self._apply_publications(publishing, labels)
            self._refresh_egresses()
            return self._local_sdp()

    def _validate_offer(self, sdp: str, labels: dict[str, str]) -> None:
        """Reject a bad offer before touching the connection (nothing half-applied)."""
        from aiortc import sdp as aiortc_sdp

        for kind in labels.values():
            if kind not in TRACK_KINDS:
                raise MediaError(f"unknown track kind {kind!r}")
        try:
            description = aiortc_sdp.SessionDescription.parse(sdp)
        except Exception as exc:
            raise MediaError(f"invalid SDP offer: {exc}") from exc
        cfg = self.router.config
        for media in description.media:
            if media.kind not in ("audio", "video"):
                continue
            mid = media.rtp.muxId
            label = labels.get(mid)
            if label is not None and MEDIA_KIND[label] != media.kind:
                raise MediaError(f"mid {mid} is {media.kind}, cannot carry {label}")
            if media.direction in ("sendonly", "sendrecv"):
                allowed = {
                    c.lower() for c in (cfg.audio_codecs if media.kind == "audio" else cfg.video_codecs)
                }
                if not any(c.mimeType.split("/")[1].lower() in allowed for c in media.rtp.codecs):
                    raise MediaError(f"no supported {media.kind} codec offered on mid {mid}")

    def _restrict_codecs(self, t: RTCRtpTransceiver) -> None:
        cfg = self.router.config
        allowed = [c.lower() for c in (cfg.audio_codecs if t.kind == "audio" else cfg.video_codecs)]
        media = [c for c in t._codecs if not c.mimeType.lower().endswith("/rtx")]
        media = [c for c in media if c.mimeType.split("/")[1].lower() in allowed]
        media.sort(key=lambda c: allowed.index(c.mimeType.split("/")[1].lower()))
        if not media:
            raise MediaError(f"no supported {t.kind} codec offered on mid {t.mid}")
        first = media[0]
        # keep one codec (what we will forward) and its RTX
        kept = [first] + [
            c
            for c in t._codecs
            if c.mimeType.lower().endswith("/rtx") and c.parameters.get("apt") == first.payloadType
        ]
        t._codecs = kept

    def _apply_publications(self, publishing: list[RTCRtpTransceiver], labels: dict[str, str]) -> None:
        current = {t.mid for t in publishing}
        # m-lines that stopped sending
        for mid, ing in list(self._ingress_by_mid.items()):
            if mid not in current and not ing.closed:
                self.router._unpublish(ing)
        used = {i.kind for i in self._ingress_by_mid.values() if not i.closed}
        for t in publishing:
            existing = self._ingress_by_mid.get(t.mid)
            kind = labels.get(t.mid)
            if existing is not None and not existing.closed and (kind is None or kind == existing.kind):
                existing.refresh_parameters()
                continue
            if existing is not None and not existing.closed:
                self.router._unpublish(existing)
                used.discard(existing.kind)
            if kind is None:
                if t.kind == "audio":
                    kind = "audio" if "audio" not in used else "screenshare_audio"
                else:
                    kind = "video" if "video" not in used else "screenshare"
            if MEDIA_KIND[kind] != t.kind:
                raise MediaError(f"mid {t.mid} is {t.kind}, cannot carry {kind}")
            used.add(kind)
            ing = IngressTrack(self.router, self.peer_id, kind, t)
            self._ingress_by_mid[t.mid] = ing
            self.router._publish(ing)

    # -- server-initiated negotiation --------------------------------------------------------
    async def create_offer(self) -> str:
        """Create the SFU's offer carrying pending subscriptions (all candidates gathered)."""
        async with self._lock, self.router._gate.slot():
            if self.closed:
                raise MediaError("peer is closed")
            if self.pc.signalingState != "stable":
                raise MediaError(f"cannot create an offer in signaling state {self.pc.signalingState}")
            pending, self._pending = self._pending, []
            for e in pending:
                if e.closed:
                    continue
                sub = e.subscription
                track_id = f"{sub.publisher_id}:{sub.kind}" if sub is not None else None
                t = self.pc.addTransceiver(ParkedTrack(e.media_kind, track_id), direction="sendonly")
                t.setCodecPreferences(capabilities_for(e.codec))
                if sub is not None:
                    t.sender._stream_id = sub.publisher_id  # a=msid:<publisher> <publisher:kind>
                e.transceiver = t
                self._hook_sender(e)
                self._egresses.append(e)
            self._negotiation_needed = False
            self._configure_ice()
            self._install_taps()
            offer = await self.pc.createOffer()
            await self.pc.setLocalDescription(offer)
            self._install_fast_receive()
            for e in self._egresses:
                if e.transceiver is not None:
                    e.mid = e.transceiver.mid
            return self._local_sdp()

    async def handle_answer(self, sdp: str) -> None:
        async with self._lock, self.router._gate.slot():
            if self.closed:
                raise MediaError("peer is closed")
            if self.pc.signalingState != "have-local-offer":
                raise MediaError(f"no offer pending (signaling state {self.pc.signalingState})")
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
            self._refresh_egresses()

    def _hook_sender(self, e: Egress) -> None:
        sender = e.transceiver.sender
        orig_send = sender.send

        async def send(parameters: Any) -> None:
            await orig_send(parameters)
            self._bind(e)

        sender.send = send  # type: ignore[method-assign]

    def _bind(self, e: Egress) -> None:
        if e.closed or e.bound:
            return
        try:
            e.bind()
        except Exception as exc:
            logger.warning("cannot bind egress %s/%s: %s", self.peer_id, e.mid, exc)
            return
        e.on_bound()

    def _refresh_egresses(self) -> None:
        """After any negotiation, re-read payload types / extension ids of started streams."""
        for e in self._egresses:
            if e.bound:
                was = e.source
                e.bound = False
                try:
                    e.bind()
                except Exception as exc:
                    logger.warning("cannot rebind egress %s/%s: %s", self.peer_id, e.mid, exc)
                    e._broken()
                    continue
                if was is not None and e not in was.egresses:
                    was.egresses.append(e)

    # -- egress pool -------------------------------------------------------------------------
    def _free_egress(self, media_kind: str, ckey: tuple[str, int, str]) -> Egress | None:
        """A negotiated outgoing stream of this codec not carrying any subscription."""
        for e in self._egresses:
            if e.subscription is None and not e.closed and e.media_kind == media_kind and e.codec_key == ckey:
                return e
        return None

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self.pc.close()


class MediaRouter:
    """The SFU media plane of one process."""

    def __init__(
        self,
        config: MediaConfig | None = None,
        *,
        on_active_speaker: Callable[[str], Any] | None = None,
        on_producer_added: Callable[[str, str], Any] | None = None,
        on_producer_removed: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.config = config or MediaConfig()
        self.on_active_speaker = on_active_speaker
        self.on_producer_added = on_producer_added
        self.on_producer_removed = on_producer_removed
        self._ports = PortAllocator(self.config.ice.port_min, self.config.ice.port_max)
        self._peers: dict[str, PeerTransport] = {}
        self._producers: dict[tuple[str, str], IngressTrack] = {}
        self._subs: dict[tuple[str, str, str], Subscription] = {}
        self._allowed: dict[tuple[str, str], bool] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._gate = NegotiationGate()
        self._housekeeper: asyncio.Task[None] | None = None
        self._active_speaker: str | None = None
        self._last_speaker_eval = 0.0
        self._load = MediaLoad(0, 0, 0, 0.0, 0.0, 0.0)
        self._load_mark: tuple[float, int, int, int] | None = None
        register_router(self)

    # -- peers -------------------------------------------------------------------------------
    async def add_peer(self, peer_id: str) -> PeerTransport:
        if peer_id in self._peers:
            raise MediaError(f"peer {peer_id} already exists")
        self._ensure_housekeeper()
        peer = PeerTransport(self, peer_id)
        self._peers[peer_id] = peer
        return peer

    def get_peer(self, peer_id: str) -> PeerTransport | None:
        return self._peers.get(peer_id)

    @property
    def peers(self) -> list[str]:
        return list(self._peers)

    async def remove_peer(self, peer_id: str) -> None:
        """Cut the peer at once (nothing of it is forwarded after this call starts), drop its
        subscriptions, then close its connection."""
        peer = self._peers.pop(peer_id, None)
        if peer is None:
            return
        self._detach_peer(peer)
        await peer.close()

    def _detach_peer(self, peer: PeerTransport) -> None:
        for ing in list(peer._ingress_by_mid.values()):
            if not ing.closed:
                self._unpublish(ing)
        for key in [k for k in self._subs if k[0] == peer.peer_id]:
            sub = self._subs.pop(key)
            sub.egress.subscription = None
        for e in peer._egresses + peer._pending:
            e.close()
        peer._pending.clear()

    def _peer_failed(self, peer: PeerTransport) -> None:
        if self._peers.get(peer.peer_id) is peer:
            del self._peers[peer.peer_id]
            self._detach_peer(peer)
            self._spawn(peer.close())

    # -- producers ---------------------------------------------------------------------------
    def _publish(self, ing: IngressTrack) -> None:
        key = (ing.peer_id, ing.kind)
        old = self._producers.get(key)
        self._producers[key] = ing
        ing.allowed = self._allowed.get(key, True)
        if old is not None and old is not ing:
            # re-published under a new m-line: move subscribers over (same codec) seamlessly
            for e in old.close():
                if e.codec_key == codec_key(ing.codec):
                    e.attach(ing)
                else:
                    self._drop_subscription_of(e)
            peer = self._peers.get(ing.peer_id)
            if peer is not None:
                for tap in peer._taps.values():
                    tap.forget(old)
        elif self.on_producer_added is not None:
            self._call(self.on_producer_added, ing.peer_id, ing.kind)

    def _unpublish(self, ing: IngressTrack) -> None:
        key = (ing.peer_id, ing.kind)
        for e in ing.close():
            self._drop_subscription_of(e)
        peer = self._peers.get(ing.peer_id)
        if peer is not None:
            for tap in peer._taps.values():
                tap.forget(ing)
        if self._producers.get(key) is ing:
            del self._producers[key]
            if self.on_producer_removed is not None:
                self._call(self.on_producer_removed, ing.peer_id, ing.kind)

    def _drop_subscription_of(self, e: Egress) -> None:
        sub = e.subscription
        e.detach()
        e.subscription = None
        if sub is not None:
            self._subs.pop((sub.subscriber_id, sub.publisher_id, sub.kind), None)

    def producers(self) -> list[tuple[str, str]]:
        """(peer_id, kind) of every published track."""
        return list(self._producers)

    def set_producer_allowed(self, peer_id: str, kind: str, allowed: bool) -> None:
        """Allow or refuse forwarding of a peer's track kind (host mute, permissions). Applies
        to the current and any future publication of that kind."""
        if kind not in TRACK_KINDS:
            raise MediaError(f"unknown track kind {kind!r}")
        self._allowed[(peer_id, kind)] = allowed
        ing = self._producers.get((peer_id, kind))
        if ing is not None:
            ing.set_allowed(allowed)

    def request_keyframe(self, peer_id: str, kind: str) -> None:
        ing = self._producers.get((peer_id, kind))
        if ing is not None:
            ing.request_keyframe()

    # -- subscriptions -----------------------------------------------------------------------
    def subscribe(self, subscriber_id: str, publisher_id: str, kind: str) -> Subscription:
        """Forward ``publisher_id``'s ``kind`` track to ``subscriber_id``.

        Reuses a free outgoing stream of the subscriber when one with the same codec exists
        (no renegotiation; sequence numbers stay contiguous); otherwise the subscriber's
        ``negotiation_needed`` becomes True and the stream starts after its answer. The
        subscriber gets a keyframe promptly (PLI upstream on subscribe).
        """
        key = (subscriber_id, publisher_id, kind)
        existing = self._subs.get(key)
        if existing is not None:
            return existing
        peer = self._peers.get(subscriber_id)
        if peer is None or peer.closed:
            raise MediaError(f"no peer {subscriber_id}")
        ing = self._producers.get((publisher_id, kind))
        if ing is None or ing.codec is None:
            raise MediaError(f"{publisher_id} publishes no {kind}")
        ckey = codec_key(ing.codec)
        egress = peer._free_egress(ing.media_kind, ckey)
        new = egress is None
        if egress is None:
            egress = Egress(self, subscriber_id, ing.media_kind, ing.codec)
            peer._pending.append(egress)
        sub = Subscription(self, subscriber_id, publisher_id, kind, egress)
        egress.subscription = sub
        self._subs[key] = sub
        egress.attach(ing)
        if new:
            peer._request_negotiation()
        return sub

    def unsubscribe(self, subscriber_id: str, publisher_id: str, kind: str) -> bool:
        """Stop forwarding; the subscriber's m-line is kept (silent) for reuse."""
        sub = self._subs.pop((subscriber_id, publisher_id, kind), None)
        if sub is None:
            return False
        e = sub.egress
        e.detach()
        e.subscription = None
        peer = self._peers.get(subscriber_id)
        if peer is not None and e in peer._pending:
            peer._pending.remove(e)
            e.close()
        return True

    def subscriptions(self, subscriber_id: str | None = None) -> list[Subscription]:
        return [s for k, s in self._subs.items() if subscriber_id is None or k[0] == subscriber_id]

    # -- speaker / load / housekeeping -------------------------------------------------------
    @property
    def active_speaker(self) -> str | None:
        return self._active_speaker

    def load(self) -> MediaLoad:
        return self._load

    def _ensure_housekeeper(self) -> None:
        if self._housekeeper is None or self._housekeeper.done():
            self._housekeeper = asyncio.get_running_loop().create_task(self._housekeeping())

    async def _housekeeping(self) -> None:
        interval = self.config.housekeeping_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self._tick(time.monotonic())
            except Exception:  # never let bookkeeping kill the loop
                logger.exception("media housekeeping failed")

    def _tick(self, now: float) -> None:
        cfg = self.config
        egresses = [e for p in self._peers.values() for e in p._egresses]
        for e in egresses:
            if e.bound:
                e.sync_sender_report()
                if not e.resolve_socket():
                    continue
                src = e.source
                if e.waiting and src is not None and now - e.wait_since >= cfg.keyframe_retry:
                    e.wait_since = now
                    src.request_keyframe()
        if now - self._last_speaker_eval >= cfg.speaker_interval:
            self._last_speaker_eval = now
            self._evaluate_speaker()
        # load
        pin = sum(i.packets_in for i in self._producers.values())
        pout = sum(e.packets for e in egresses)
        bout = sum(e.octets for e in egresses)
        mark = self._load_mark
        pps_in = pps_out = bps_out = 0.0
        if mark is not None and now - mark[0] < 1.0:
            pps_in, pps_out, bps_out = (
                self._load.packets_in_per_s,
                self._load.packets_out_per_s,
                self._load.bits_out_per_s,
            )
        else:
            if mark is not None:
                dt = now - mark[0]
                pps_in = max(0, pin - mark[1]) / dt
                pps_out = max(0, pout - mark[2]) / dt
                bps_out = max(0, bout - mark[3]) * 8 / dt
            self._load_mark = (now, pin, pout, bout)
        self._load = MediaLoad(
            peers=len(self._peers),
            published_tracks=len(self._producers),
            subscriptions=sum(1 for s in self._subs.values() if s.active),
            packets_in_per_s=pps_in,
            packets_out_per_s=pps_out,
            bits_out_per_s=bps_out,
        )

    def _evaluate_speaker(self) -> None:
        best, best_level = None, -1.0
        threshold = 127 - self.config.speaker_silence_dbov
        for (peer_id, kind), ing in self._producers.items():
            if kind != "audio":
                continue
            n, s = ing.level_n, ing.level_sum
            ing.level_n = ing.level_sum = 0
            if not n or not ing.allowed:
                continue
            level = s / n
            if level >= threshold and level > best_level:
                best, best_level = peer_id, level
        if best is not None and best != self._active_speaker:
            self._active_speaker = best
            COUNTERS.speaker_changes += 1
            if self.on_active_speaker is not None:
                self._call(self.on_active_speaker, best)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            res = fn(*args)
        except Exception:
            logger.exception("media callback failed")
            return
        if asyncio.iscoroutine(res):
            self._spawn(res)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, ConnectionError):
                logger.warning("media task failed: %r", exc)

    async def close(self) -> None:
        for peer_id in list(self._peers):
            await self.remove_peer(peer_id)
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            try:
                await self._housekeeper
            except asyncio.CancelledError:
                pass
        # let in-flight closes / RTCP sends finish (cancelling a task that awaits
        # RTCPeerConnection.close() would cancel aiortc's internal close future)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=2.0)
            for task in still:
                task.cancel()
