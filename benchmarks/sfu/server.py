"""Benchmark server: the SFU media plane (``--mode forward``) or a stock aiortc relay that
decodes and re-encodes per subscriber (``--mode relay``, MediaRelay), behind one JSON-lines
signaling protocol. Prints ``{"ready": port}`` on stdout once listening.

Ops (client -> server): join{peer}, offer{sdp, labels} -> answer{sdp},
subscribe{publishers, kinds} -> offer{sdp} ... answer{sdp} -> subscribed{},
stats -> stats{cpu, forwarded, received, counters}, profile{action: start|stop, path}.
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


class ForwardBackend:
    def __init__(self) -> None:
        from rtk_sfu.media import IceConfig, MediaConfig, MediaRouter

        self.router = MediaRouter(MediaConfig(ice=IceConfig(addresses=("127.0.0.1",))))

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


async def serve(mode: str, port: int) -> None:
    backend: Any = ForwardBackend() if mode == "forward" else RelayBackend()
    profiler: cProfile.Profile | None = None

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
    args = ap.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(serve(args.mode, args.port))


if __name__ == "__main__":
    main()
