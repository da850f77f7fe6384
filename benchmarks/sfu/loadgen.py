"""Load generator: N publishers (pre-encoded 640x480 VP8 + Opus, no per-frame encode) and M
subscribers (each subscribed to every publisher's video + audio) against the benchmark server.

Subscriber 0 runs the stock aiortc receive path and decodes everything (proves the forwarded
streams decode, gives the resolution); the others count packets in a tap on their DTLS
transport (no jitter buffer, no decode) so the load generator stays cheap.

Prints one JSON object with the results on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aioice.ice  # noqa: E402
import av  # noqa: E402
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription  # noqa: E402
from aiortc.mediastreams import MediaStreamError  # noqa: E402
from av.video.frame import PictureType  # noqa: E402

# Imported up front, not on the first subscriber's answer: importing rtk_sfu.media (prometheus
# client, aiortc checks) took ~50 ms of the load generator's single thread in the middle of the
# join burst. The import also makes this process's aiortc receivers build their (unused here)
# receive-side bandwidth estimator lazily, as on the SFU.
from rtk_sfu.media.rtp import parse_header, vp8_is_keyframe_start  # noqa: E402
from rtk_sfu.media.srtp import lean_unprotect  # noqa: E402

from sfu.wire import loopback_ice, recv, send  # noqa: E402

FPS = 30
#: a lean subscriber whose video does not start with a keyframe sends a PLI at most this often
KEYFRAME_REQUEST_INTERVAL = 0.1


def preencode_video(width: int, height: int, seconds: float, bitrate: int) -> list[bytes]:
    """Encode a lavfi testsrc2 (moving, ~6 kB per delta frame at 1.5 Mbit/s, ~18 kB keyframe)
    once; frame 0 is the only keyframe, so a subscriber joining mid-stream needs a PLI."""
    n = int(seconds * FPS)
    cc = av.CodecContext.create("libvpx", "w")
    cc.width, cc.height, cc.pix_fmt = width, height, "yuv420p"
    cc.bit_rate = bitrate
    cc.time_base = fractions.Fraction(1, FPS)
    cc.framerate = fractions.Fraction(FPS, 1)
    cc.gop_size = 100000
    cc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "error-resilient": "1"}
    out: list[bytes] = []
    try:
        src = av.open(f"testsrc2=size={width}x{height}:rate={FPS}", format="lavfi")
        frames = (f for f in src.decode(video=0))
    except Exception:  # pragma: no cover - lavfi missing: moving gradient
        import numpy as np

        def gen():
            for i in range(n):
                img = np.zeros((height, width, 3), dtype=np.uint8)
                img[:, :, 0] = (np.arange(width)[None, :] + i * 8) % 256
                img[:, :, 1] = (np.arange(height)[:, None] + i * 4) % 256
                yield av.VideoFrame.from_ndarray(img, format="rgb24")

        frames = gen()
    for i, frame in enumerate(frames):
        if i >= n:
            break
        frame = frame.reformat(format="yuv420p")
        # lavfi frames come out as pict_type I, and libvpxenc forces a keyframe for every I frame:
        # without this every frame was a keyframe and a new subscriber never needed a PLI
        frame.pict_type = PictureType.I if i == 0 else PictureType.NONE
        frame.pts = i
        frame.time_base = cc.time_base
        for p in cc.encode(frame):
            out.append(bytes(p))
    for p in cc.encode(None):
        out.append(bytes(p))
    return out[:n]


def preencode_opus(seconds: float) -> list[bytes]:
    import numpy as np

    cc = av.CodecContext.create("libopus", "w")
    cc.sample_rate = 48000
    cc.layout = "stereo"
    cc.format = "s16"
    cc.bit_rate = 48000
    out: list[bytes] = []
    samples = 960
    for i in range(int(seconds * 50)):
        t = (np.arange(samples) + i * samples) / 48000
        pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(pcm[None, :], 2, axis=0).T.reshape(1, -1), format="s16", layout="stereo"
        )
        frame.sample_rate = 48000
        frame.pts = i * samples
        for p in cc.encode(frame):
            out.append(bytes(p))
    return out


class PacketTrack(MediaStreamTrack):
    """Replays pre-encoded packets in real time; a keyframe request restarts at packet 0."""

    def __init__(self, kind: str, packets: list[bytes], clock_rate: int, step: int, ptime: float) -> None:
        super().__init__()
        self.kind = kind
        self.packets = packets
        self.clock_rate = clock_rate
        self.step = step
        self.ptime = ptime
        self.i = 0
        self.n = 0
        self.start: float | None = None
        self.keyframe_requests = 0
        self.keyframe_request_times: list[float] = []

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1
        self.keyframe_request_times.append(time.monotonic())
        self.i = 0

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.monotonic()
        else:
            delay = self.start + self.n * self.ptime - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        data = self.packets[self.i]
        self.i = (self.i + 1) % len(self.packets)
        pkt = av.Packet(data)
        pkt.pts = self.n * self.step
        pkt.time_base = fractions.Fraction(1, self.clock_rate)
        self.n += 1
        return pkt


class StreamCount:
    __slots__ = (
        "kind",
        "first_seq",
        "max_seq",
        "cycles",
        "received",
        "first_frame_at",
        "mark",
        "pli_at",
        "plis",
    )

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.first_seq: int | None = None
        self.max_seq = 0
        self.cycles = 0
        self.received = 0
        self.first_frame_at: float | None = None
        self.mark: tuple[int, int] | None = None
        self.pli_at = -1e9
        self.plis = 0

    @property
    def expected(self) -> int:
        return 0 if self.first_seq is None else self.cycles + self.max_seq - self.first_seq + 1


_CLIENT_TURN: asyncio.Lock | None = None
SERIAL_CLIENTS = False


@contextlib.asynccontextmanager
async def client_turn() -> AsyncIterator[None]:
    """With ``--serial-clients``, emulated clients answer their offers one at a time, in arrival
    order.

    Real clients each have their own CPU and answer within a few ms of their offer. In this one
    process asyncio interleaves all M answers at every await inside aiortc, so (by default) all of
    them go out only after all M have been computed. In order, client k answers after k answers'
    CPU: a lower median, a later tail; neither is M independent clients."""
    global _CLIENT_TURN
    if not SERIAL_CLIENTS:
        yield
        return
    if _CLIENT_TURN is None:
        _CLIENT_TURN = asyncio.Lock()
    async with _CLIENT_TURN:
        yield


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def publisher(port: int, pid: str, video: list[bytes], audio: list[bytes]) -> dict[str, Any]:
    reader, writer = await connect(port)
    await send(writer, {"op": "join", "peer": pid})
    await recv(reader)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    vt = PacketTrack("video", video, 90000, 90000 // FPS, 1 / FPS)
    at = PacketTrack("audio", audio, 48000, 960, 0.02)
    tv = pc.addTransceiver(vt, direction="sendonly")
    caps = RTCRtpSender.getCapabilities("video").codecs
    tv.setCodecPreferences([c for c in caps if c.mimeType in ("video/VP8", "video/rtx")][:2])
    ta = pc.addTransceiver(at, direction="sendonly")
    tv.sender._send_keyframe = vt.request_keyframe
    await pc.setLocalDescription(await pc.createOffer())
    await send(
        writer, {"op": "offer", "sdp": pc.localDescription.sdp, "labels": {tv.mid: "video", ta.mid: "audio"}}
    )
    ans = await recv(reader)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=ans["sdp"], type="answer"))
    return {"pc": pc, "video": vt, "audio": at, "writer": writer, "reader": reader}


async def subscriber(
    port: int, sid: str, publishers: list[str], decode: bool, t_ref: float
) -> dict[str, Any]:
    reader, writer = await connect(port)
    t_join = time.monotonic()
    marks: dict[str, float] = {}
    await send(writer, {"op": "join", "peer": sid})
    await recv(reader)
    marks["joined"] = time.monotonic()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    streams: dict[int, StreamCount] = {}
    decoded: dict[str, dict[str, Any]] = {}
    consumers = []

    @pc.on("iceconnectionstatechange")
    def on_ice() -> None:
        key = "ice_" + pc.iceConnectionState
        if key not in marks:
            marks[key] = time.monotonic()

    @pc.on("connectionstatechange")
    def on_conn() -> None:
        if pc.connectionState == "connected" and "dtls_connected" not in marks:
            marks["dtls_connected"] = time.monotonic()

    if decode:

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            st = decoded.setdefault(
                track.id + str(len(decoded)), {"kind": track.kind, "frames": 0, "first": None, "size": None}
            )

            async def consume() -> None:
                try:
                    while True:
                        frame = await track.recv()
                        st["frames"] += 1
                        if st["first"] is None:
                            st["first"] = time.monotonic()
                        if track.kind == "video":
                            st["size"] = (frame.width, frame.height)
                except (MediaStreamError, asyncio.CancelledError):
                    pass

            consumers.append(asyncio.ensure_future(consume()))

    await send(writer, {"op": "subscribe", "publishers": publishers, "kinds": ["video", "audio"]})
    offer = await recv(reader)
    marks["offer_received"] = time.monotonic()
    async with client_turn():
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        marks["remote_set"] = time.monotonic()
        answer = await pc.createAnswer()
        marks["answer_created"] = time.monotonic()
        await pc.setLocalDescription(answer)
        marks["local_set"] = time.monotonic()

        if not decode:
            install_counter(pc, streams, marks)

        await send(writer, {"op": "answer", "sdp": pc.localDescription.sdp})
    marks["answer_sent"] = time.monotonic()
    await recv(reader)
    marks["subscribed"] = time.monotonic()
    return {
        "id": sid,
        "pc": pc,
        "streams": streams,
        "decoded": decoded,
        "consumers": consumers,
        "t_join": t_join,
        "marks": marks,
        "writer": writer,
        "n_publishers": len(publishers),
    }


def install_counter(pc: RTCPeerConnection, streams: dict[int, StreamCount], marks: dict[str, float]) -> None:
    """Count forwarded RTP in the socket callback: the SRTP header (SSRC, sequence number) is
    plaintext, so only packets up to each stream's first keyframe are decrypted (to time the
    first frame). Everything else (STUN, DTLS, RTCP) takes aioice's normal path."""

    pt_kind: dict[int, str] = {}
    for t in pc.getTransceivers():
        for c in t._codecs:
            if not c.mimeType.lower().endswith("/rtx"):
                pt_kind[c.payloadType] = t.kind
    dtls = pc.getTransceivers()[0].receiver.transport
    vrecv = next((t.receiver for t in pc.getTransceivers() if t.kind == "video"), None)
    conn = dtls.transport._connection
    state: list[Any] = [None, None]

    def make(orig: Any) -> Any:
        def datagram_received(data: bytes, addr: Any) -> None:
            if len(data) > 12 and 127 < data[0] < 192 and not (191 < data[1] < 224):
                ssrc = int.from_bytes(data[8:12], "big")
                st = streams.get(ssrc)
                if st is None:
                    kind = pt_kind.get(data[1] & 0x7F)
                    if kind is None:
                        return  # RTX
                    st = streams[ssrc] = StreamCount(kind)
                    if "first_rtp" not in marks:
                        marks["first_rtp"] = time.monotonic()
                    st.first_seq = st.max_seq = (data[2] << 8) | data[3]
                seq = (data[2] << 8) | data[3]
                st.received += 1
                d = (seq - st.max_seq) & 0xFFFF
                if 0 < d < 0x8000:
                    if seq < st.max_seq:
                        st.cycles += 0x10000
                    st.max_seq = seq
                if st.first_frame_at is None:
                    srtp = dtls._rx_srtp
                    if srtp is None:
                        return
                    if state[0] is not srtp:
                        state[0], state[1] = srtp, lean_unprotect(srtp)
                    plain = state[1](data)
                    if plain is None:
                        return
                    _b1, _seq, _ts, _xs, _xe, ps, pe = parse_header(plain)
                    now = time.monotonic()
                    if st.kind == "audio" or vp8_is_keyframe_start(plain[ps:pe]):
                        st.first_frame_at = now
                    elif vrecv is not None and now - st.pli_at >= KEYFRAME_REQUEST_INTERVAL:
                        # video that does not start with a keyframe (e.g. the keyframe came
                        # before this side's DTLS handshake had finished): ask for one, as a
                        # browser's receiver does
                        st.pli_at = now
                        st.plis += 1
                        asyncio.ensure_future(vrecv._send_rtcp_pli(ssrc))
                return
            orig(data, addr)

        return datagram_received

    for proto in conn._protocols:
        if type(proto) is aioice.ice.StunProtocol:
            proto.datagram_received = make(proto.datagram_received)
            sock = proto.transport.get_extra_info("socket")
            if sock is not None:
                # ~3 s of this subscriber's traffic: a load generator descheduled for a while by
                # other tenants of the machine must not count its own socket overflow as SFU loss
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)


async def server_stats(port: int) -> dict[str, Any]:
    reader, writer = await connect(port)
    await send(writer, {"op": "stats"})
    res = await recv(reader)
    writer.close()
    return res


async def server_op(port: int, msg: dict[str, Any]) -> None:
    reader, writer = await connect(port)
    await send(writer, msg)
    await recv(reader)
    writer.close()


def first_frame_times(subs: list[dict[str, Any]]) -> list[float]:
    out = []
    for s in subs:
        if s["decoded"]:
            for st in s["decoded"].values():
                if st["kind"] == "video" and st["first"] is not None:
                    out.append(st["first"] - s["t_join"])
        else:
            for st in s["streams"].values():
                if st.kind == "video" and st.first_frame_at is not None:
                    out.append(st.first_frame_at - s["t_join"])
    return out


CPU_SAMPLES: list[tuple[float, float, list[int]]] = []


def _proc_stat() -> list[int]:
    try:
        with open("/proc/stat") as f:
            return [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return []


async def cpu_sampler(period: float = 0.05) -> None:
    """(monotonic, this process's CPU seconds, /proc/stat cpu line) every ``period``."""
    while True:
        CPU_SAMPLES.append((time.monotonic(), time.process_time(), _proc_stat()))
        await asyncio.sleep(period)


def join_foreign_cpu(
    a: tuple[float, float, list[int]], b: tuple[float, float, list[int]], wall: float
) -> float | None:
    """CPU (in cores) used by processes other than the SFU and this load generator while the
    subscribers joined: the machine is shared, and join latency is CPU-bound."""
    d = [y - x for x, y in zip(a[2], b[2], strict=False)]
    if len(d) < 5 or not sum(d) or wall <= 0:
        return None
    busy = (sum(d) - d[3] - d[4]) / sum(d) * (os.cpu_count() or 1)
    return round(max(0.0, busy - ((b[0] - a[0]) + (b[1] - a[1])) / wall), 2)


def cpu_timeline(t_ref: float, end: float, events: list[list[Any]]) -> list[str]:
    """Per sample interval after the joins: load generator CPU %, SFU CPU %, machine busy % of
    all CPUs (2 = 200 %), steal %."""
    sfu = [(t, float(ev[4:])) for t, who, ev in events if who == "sfu" and ev.startswith("cpu=")]

    def sfu_cpu(t: float) -> float:
        prev = None
        for ts, c in sfu:
            if ts > t:
                if prev is None:
                    return c
                return prev[1] + (c - prev[1]) * (t - prev[0]) / ((ts - prev[0]) or 1)
            prev = (ts, c)
        return prev[1] if prev else 0.0

    out = []
    for (t0, c0, s0), (t1, c1, s1) in zip(CPU_SAMPLES, CPU_SAMPLES[1:], strict=False):
        if t1 < t_ref or t0 > end:
            continue
        d = [b - a for a, b in zip(s0, s1, strict=False)]
        tot = sum(d) or 1
        idle = d[3] + d[4] if len(d) > 4 else 0
        steal = d[7] if len(d) > 7 else 0
        ncpu = len(d) and (os.cpu_count() or 1)
        out.append(
            f"{1000 * (t0 - t_ref):5.0f}-{1000 * (t1 - t_ref):5.0f} ms: loadgen {100 * (c1 - c0) / (t1 - t0):4.0f} %"
            f"  sfu {100 * (sfu_cpu(t1) - sfu_cpu(t0)) / (t1 - t0):4.0f} %"
            f"  machine busy {ncpu * 100 * (tot - idle) / tot:4.0f} %  steal {100 * steal / tot:3.0f} %"
        )
    return out


def join_phases(subs: list[dict[str, Any]], events: list[list[Any]], t_ref: float) -> dict[str, Any]:
    """Per-milestone p50/p95/max in ms after each (lean) subscriber's join, load generator side
    (lg.*) and SFU side (sfu.*, from the server's trace), plus the upstream PLIs per publisher."""
    by_peer: dict[str, list[tuple[float, str]]] = {}
    for t, who, ev in events:
        by_peer.setdefault(who, []).append((t, ev))
    acc: dict[str, list[float]] = {}

    def add(name: str, t: float | None, t0: float) -> None:
        if t is not None:
            acc.setdefault(name, []).append(1000 * (t - t0))

    for s in subs:
        if s["decoded"]:
            continue
        t0 = s["t_join"]
        for k, v in s["marks"].items():
            add("lg." + k, v, t0)
        vf = [st.first_frame_at for st in s["streams"].values() if st.kind == "video" and st.first_frame_at]
        if vf:
            add("lg.first_video_key.first", min(vf), t0)
            add("lg.first_video_key.last", max(vf), t0)
        firsts: dict[str, list[float]] = {}
        for who in (s["id"], s["id"] + "/video"):
            for t, ev in by_peer.get(who, []):
                firsts.setdefault(ev, []).append(t)
        for ev, ts in firsts.items():
            add("sfu." + ev + (".first" if len(ts) > 1 else ""), min(ts), t0)
            if len(ts) > 1:
                add("sfu." + ev + ".last", max(ts), t0)
    out: dict[str, Any] = {
        k: [round(pct(v, 50) or 0), round(pct(v, 95) or 0), round(max(v)), len(v)]
        for k, v in sorted(acc.items(), key=lambda kv: statistics.median(kv[1]))
    }
    plis: dict[str, list[int]] = {}
    kf_in: dict[str, list[int]] = {}
    for t, who, ev in events:
        if ev in ("pli_sent", "kf_in", "rtx_in") and t >= t_ref - 0.5:
            d = plis if ev == "pli_sent" else kf_in
            d.setdefault(who, []).append(
                round(1000 * (t - t_ref)) if ev != "rtx_in" else f"rtx@{1000 * (t - t_ref):.0f}"
            )
    out["pli_sent_ms_after_joins"] = plis
    out["requested_keyframes_in_ms_after_joins"] = kf_in
    out["kf_requests"] = sum(1 for _t, _w, ev in events if ev == "kf_request")
    return out


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(q / 100 * (len(values) - 1))))
    return values[k]


def load_sources(args: argparse.Namespace) -> tuple[list[bytes], list[bytes]]:
    """Pre-encoded media, cached on disk by the orchestrator (encoded once per run)."""
    import pickle

    if args.cache and Path(args.cache).exists():
        with open(args.cache, "rb") as f:
            video, audio = pickle.load(f)
        if len(video) > 1 and video[0][0] & 1 == 0 and video[1][0] & 1:  # keyframe, then delta
            return video, audio
    video = preencode_video(args.width, args.height, 4.0, args.bitrate)
    audio = preencode_opus(1.0)
    if args.cache:
        with open(args.cache, "wb") as f:
            pickle.dump((video, audio), f)
    return video, audio


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loopback_ice()
    t_enc = time.monotonic()
    video, audio = load_sources(args)
    enc_s = time.monotonic() - t_enc
    pub_ids = [f"pub{i}" for i in range(args.publishers)]
    pubs = [await publisher(args.port, pid, video, audio) for pid in pub_ids]
    await asyncio.sleep(1.0)
    sampler = asyncio.ensure_future(cpu_sampler()) if args.trace else None
    join_prof = None
    if args.trace and os.environ.get("RTK_BENCH_LOADGEN_JOIN_PROFILE"):
        import cProfile

        join_prof = cProfile.Profile()
        join_prof.enable()
    j0 = (await server_stats(args.port))["cpu"], time.process_time(), _proc_stat()
    t_ref = time.monotonic()
    lean = [subscriber(args.port, f"sub{i}", pub_ids, False, t_ref) for i in range(args.subscribers)]
    # one extra subscriber runs the stock receive path and decodes publisher 0's tracks: proves the
    # forwarded stream decodes (resolution, fps) without making the load generator the bottleneck
    probe = [] if args.no_decode else [subscriber(args.port, "probe", pub_ids[:1], True, t_ref)]
    subs = await asyncio.gather(*lean, *probe)
    expected_video = args.subscribers * args.publishers + len(probe)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(first_frame_times(subs)) < expected_video:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    j1 = (await server_stats(args.port))["cpu"], time.process_time(), _proc_stat()
    foreign = join_foreign_cpu(j0, j1, time.monotonic() - t_ref)
    if join_prof is not None:
        join_prof.disable()
        join_prof.dump_stats(os.environ["RTK_BENCH_LOADGEN_JOIN_PROFILE"])
    phases = None
    if args.trace:
        reader, writer = await connect(args.port)
        await send(writer, {"op": "trace"})
        tr = await recv(reader)
        writer.close()
        phases = join_phases(subs, tr["events"] if tr else [], t_ref)
        phases["publisher_keyframe_requests_ms_after_joins"] = [
            [round(1000 * (t - t_ref)) for t in p["video"].keyframe_request_times if t >= t_ref] for p in pubs
        ]
        if sampler is not None:
            sampler.cancel()
        phases["cpu_timeline"] = cpu_timeline(t_ref, time.monotonic(), tr["events"] if tr else [])
    await asyncio.sleep(args.warmup)

    for s in subs:
        for st in s["streams"].values():
            st.mark = (st.received, st.expected)
    dec0 = {k: v["frames"] for s in subs for k, v in s["decoded"].items()}
    if args.profile:
        await server_op(args.port, {"op": "profile", "action": "start"})
    import resource

    def sent_by_publishers() -> int:
        return sum(t.sender._RTCRtpSender__packet_count for p in pubs for t in p["pc"].getTransceivers())

    sent0 = sent_by_publishers()
    s0 = await server_stats(args.port)
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.sleep(args.duration)
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    s1 = await server_stats(args.port)
    sent1 = sent_by_publishers()
    if args.profile:
        await server_op(args.port, {"op": "profile", "action": "stop", "path": args.profile})

    received = expected = 0
    by_kind: dict[str, list[int]] = {}
    for s in subs:
        for st in s["streams"].values():
            if st.mark is not None:
                received += st.received - st.mark[0]
                expected += st.expected - st.mark[1]
                k = by_kind.setdefault(st.kind, [0, 0])
                k[0] += st.received - st.mark[0]
                k[1] += st.expected - st.mark[1]
    dec_fps = [
        (v["frames"] - dec0.get(k, 0)) / args.duration
        for s in subs
        for k, v in s["decoded"].items()
        if v["kind"] == "video"
    ]
    sizes = sorted(
        {tuple(v["size"]) for s in subs for v in s["decoded"].values() if v["kind"] == "video" and v["size"]}
    )
    ff = first_frame_times(subs)
    wall = s1["wall"] - s0["wall"]
    cpu = s1["cpu"] - s0["cpu"]
    fwd = s1["forwarded"] - s0["forwarded"]
    res = {
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "probe": not args.no_decode,
        "window_s": round(wall, 2),
        "forwarded_pps": fwd / wall if wall else 0,
        "sfu_cpu_util": cpu / wall if wall else 0,
        "sfu_cpu_us_per_packet": cpu / fwd * 1e6 if fwd else None,
        "loadgen_cpu_util": (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / wall if wall else 0,
        "sfu_user_share": (s1["cpu_user"] - s0["cpu_user"]) / cpu if cpu else None,
        "packets_per_core_s": fwd / cpu if cpu else None,
        "received_pps_at_subscribers": received / wall if wall else 0,
        "published_pps": (sent1 - sent0) / wall if wall else 0,
        "loss": 1 - received / expected if expected else None,
        "loss_by_kind": {k: round(1 - r / e, 4) if e else None for k, (r, e) in by_kind.items()},
        "first_frame_p50_s": pct(ff, 50),
        "first_frame_p95_s": pct(ff, 95),
        "first_frames": f"{len(ff)}/{expected_video}",
        "join_foreign_cpu": foreign,
        "decoder_fps": round(statistics.mean(dec_fps), 1) if dec_fps else None,
        "decoded_sizes": sizes,
        "publisher_keyframe_requests": sum(p["video"].keyframe_requests for p in pubs),
        "subscriber_keyframe_requests": sum(st.plis for s in subs for st in s["streams"].values()),
        "server_counters": {
            k: s1["counters"].get(k, 0) - s0["counters"].get(k, 0) for k in s1.get("counters", {})
        },
        "preencode_s": round(enc_s, 2),
    }
    if phases is not None:
        res["join_phases"] = phases
    for s in subs:
        for c in s["consumers"]:
            c.cancel()
        await s["pc"].close()
    for p in pubs:
        await p["pc"].close()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--subscribers", type=int, default=4)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--bitrate", type=int, default=1_500_000)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--profile", default="")
    ap.add_argument("--no-decode", action="store_true")
    ap.add_argument("--trace", action="store_true", help="join milestones (server started with --trace)")
    ap.add_argument(
        "--serial-clients", action="store_true", help="emulated clients compute their answers one at a time"
    )
    ap.add_argument("--cache", default="", help="pickle file of pre-encoded sources")
    ap.add_argument("--prepare", action="store_true", help="only pre-encode into --cache")
    args = ap.parse_args()
    if args.prepare:
        load_sources(args)
        return
    global SERIAL_CLIENTS
    SERIAL_CLIENTS = args.serial_clients
    res = asyncio.run(run(args))
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
