"""Benchmark server: the SFU media plane (``--mode forward``) or a stock aiortc relay that
decodes and re-encodes per subscriber (``--mode relay``, MediaRelay), behind one JSON-lines
signaling protocol. Prints ``{"ready": port}`` on stdout once listening.

Ops (client -> server): join{peer}, offer{sdp, labels} -> answer{sdp},
subscribe{publishers, kinds} -> offer{sdp} ... answer{sdp} -> subscribed{},
stats -> stats{cpu, forwarded, received, counters}, profile{action: start|stop, path},
trace -> trace{events} (with --trace: SFU-side join milestones, then cleared).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sfu.wire import loopback_ice, recv, send  # noqa: E402


def cpu_seconds() -> tuple[float, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


TRACE: list[tuple[float, str, str]] = []


def install_trace() -> None:
    """Record (monotonic time, peer, event) of the SFU-side join milestones: egress bound
    (subscriber's DTLS up + answer applied), PLI requested / sent upstream, keyframe start
    forwarded. CLOCK_MONOTONIC is system-wide, so the load generator can line these up with
    its own timestamps."""
    from rtk_sfu.media import forwarder, router

    def wrap(cls: Any, name: str, event: str, who: Any) -> None:
        orig = getattr(cls, name, None)
        if orig is None:  # another version of the media plane
            return

        def fn(self: Any, *a: Any, **kw: Any) -> Any:
            TRACE.append((time.monotonic(), who(self), event))
            return orig(self, *a, **kw)

        setattr(cls, name, fn)

    sub = lambda e: f"{e.subscriber_id}/{e.media_kind}"  # noqa: E731
    pub = lambda i: f"{i.peer_id}/{i.kind}"  # noqa: E731
    wrap(forwarder.Egress, "on_bound", "bound", sub)
    wrap(forwarder.Egress, "_start", "kf_start", sub)
    wrap(forwarder.Egress, "on_keyframe_request", "pli_from_sub", sub)
    wrap(forwarder.IngressTrack, "request_keyframe", "kf_request", pub)
    wrap(forwarder.IngressTrack, "_send_pli", "pli_sent", pub)
    wrap(forwarder.IngressTrack, "_keyframe_seen", "kf_in", pub)
    orig_on_rtp = forwarder.IngressTrack.on_rtp

    def on_rtp(self: Any, data: bytes, arrival_time_ms: int, is_rtx: bool) -> None:
        if is_rtx:
            TRACE.append((time.monotonic(), pub(self), "rtx_in"))
        orig_on_rtp(self, data, arrival_time_ms, is_rtx)

    forwarder.IngressTrack.on_rtp = on_rtp
    wrap(router.PeerTransport, "create_offer", "create_offer", lambda p: p.peer_id)
    wrap(router.PeerTransport, "handle_answer", "handle_answer", lambda p: p.peer_id)


class ForwardBackend:
    def __init__(self) -> None:
        from rtk_sfu.media import IceConfig, MediaConfig, MediaRouter

        self.router = MediaRouter(MediaConfig(ice=IceConfig(addresses=("127.0.0.1",))))

    def trace_peer(self, peer: Any) -> None:
        pid = peer.peer_id

        @peer.pc.on("iceconnectionstatechange")
        def on_ice() -> None:
            TRACE.append((time.monotonic(), pid, "ice_" + peer.pc.iceConnectionState))

        @peer.pc.on("connectionstatechange")
        def on_conn() -> None:
            TRACE.append((time.monotonic(), pid, "pc_" + peer.pc.connectionState))

    async def join(self, peer_id: str) -> Any:
        return await self.router.add_peer(peer_id)

    async def handle_offer(self, peer: Any, sdp: str, labels: dict[str, str]) -> str:
        return await peer.handle_offer(sdp, labels)

    async def subscribe(self, peer: Any, publishers: list[str], kinds: list[str]) -> str:
        for pub in publishers:
            for kind in kinds:
                self.router.subscribe(peer.peer_id, pub, kind)
        return await peer.create_offer()

    async def handle_answer(self, peer: Any, sdp: str) -> None:
        await peer.handle_answer(sdp)

    def counters(self) -> dict[str, Any]:
        from rtk_sfu.media import COUNTERS

        snap = COUNTERS.snapshot()
        return {
            "forwarded": snap["rtp_packets_forwarded"],
            "received": snap["rtp_packets_received"],
            "counters": snap,
        }


class RelayBackend:
    """Stock aiortc: decode each publisher track once, MediaRelay fan-out, encode per subscriber."""

    def __init__(self) -> None:
        from aiortc.contrib.media import MediaRelay

        loopback_ice()
        self.relay = MediaRelay()
        self.tracks: dict[tuple[str, str], Any] = {}
        self.pcs: dict[str, Any] = {}

    async def join(self, peer_id: str) -> Any:
        from aiortc import RTCConfiguration, RTCPeerConnection

        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.peer_id = peer_id  # type: ignore[attr-defined]
        self.pcs[peer_id] = pc
        return pc

    async def handle_offer(self, pc: Any, sdp: str, labels: dict[str, str]) -> str:
        from aiortc import RTCSessionDescription

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        for t in pc.getTransceivers():
            if t.receiver.track is not None:
                self.tracks[(pc.peer_id, labels.get(t.mid, t.kind))] = t.receiver.track
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp

    async def subscribe(self, pc: Any, publishers: list[str], kinds: list[str]) -> str:
        from aiortc import RTCRtpSender

        for pub in publishers:
            for kind in kinds:
                proxy = self.relay.subscribe(self.tracks[(pub, kind)], buffered=False)
                t = pc.addTransceiver(proxy, direction="sendonly")
                if proxy.kind == "video":
                    caps = RTCRtpSender.getCapabilities("video").codecs
                    t.setCodecPreferences([c for c in caps if c.mimeType in ("video/VP8", "video/rtx")][:2])
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    async def handle_answer(self, pc: Any, sdp: str) -> None:
        from aiortc import RTCSessionDescription

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    def counters(self) -> dict[str, Any]:
        forwarded = 0
        for pc in self.pcs.values():
            for t in pc.getTransceivers():
                if t.direction == "sendonly":
                    forwarded += t.sender._RTCRtpSender__packet_count
        return {"forwarded": forwarded, "received": 0, "counters": {}}


async def cpu_sampler(period: float = 0.05) -> None:
    while True:
        TRACE.append((time.monotonic(), "sfu", f"cpu={time.process_time()}"))
        await asyncio.sleep(period)


async def serve(mode: str, port: int, trace: bool = False) -> None:
    if trace and mode == "forward":
        install_trace()
    sampler = asyncio.ensure_future(cpu_sampler()) if trace else None  # noqa: F841
    backend: Any = ForwardBackend() if mode == "forward" else RelayBackend()
    profiler: cProfile.Profile | None = None
    # RTK_BENCH_JOIN_PROFILE=path (with --trace): cProfile of the SFU from start to the trace op
    join_profile: cProfile.Profile | None = None
    if trace and os.environ.get("RTK_BENCH_JOIN_PROFILE"):
        join_profile = cProfile.Profile()
        join_profile.enable()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal profiler
        peer = None
        try:
            while True:
                msg = await recv(reader)
                if msg is None:
                    break
                op = msg["op"]
                if op == "join":
                    peer = await backend.join(msg["peer"])
                    if trace and hasattr(backend, "trace_peer"):
                        backend.trace_peer(peer)
                    await send(writer, {"op": "joined"})
                elif op == "offer":
                    answer = await backend.handle_offer(peer, msg["sdp"], msg.get("labels", {}))
                    await send(writer, {"op": "answer", "sdp": answer})
                elif op == "subscribe":
                    offer = await backend.subscribe(peer, msg["publishers"], msg["kinds"])
                    await send(writer, {"op": "offer", "sdp": offer})
                elif op == "answer":
                    await backend.handle_answer(peer, msg["sdp"])
                    await send(writer, {"op": "subscribed"})
                elif op == "stats":
                    await send(
                        writer,
                        {
                            "op": "stats",
                            "cpu": sum(cpu_seconds()),
                            "cpu_user": cpu_seconds()[0],
                            "wall": time.monotonic(),
                            **backend.counters(),
                        },
                    )
                elif op == "trace":
                    if join_profile is not None:
                        join_profile.disable()
                        join_profile.dump_stats(os.environ["RTK_BENCH_JOIN_PROFILE"])
                    await send(writer, {"op": "trace", "events": TRACE})
                    TRACE.clear()
                elif op == "profile":
                    if msg["action"] == "start":
                        profiler = cProfile.Profile()
                        profiler.enable()
                    elif profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(msg["path"])
                        profiler = None
                    await send(writer, {"op": "profiled"})
                elif op == "quit":
                    await send(writer, {"op": "bye"})
                    os._exit(0)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    actual = server.sockets[0].getsockname()[1]
    print(json.dumps({"ready": actual}), flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=("forward", "relay"), default="forward")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--trace", action="store_true", help="record SFU-side join milestones (op trace)")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(serve(args.mode, args.port, args.trace))


if __name__ == "__main__":
    main()
