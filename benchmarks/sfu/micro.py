"""Hot-path micro-benchmark of rtk_sfu.media: where each microsecond per forwarded packet goes.

Drives the real code (``_TransportTap`` fast receive -> ``IngressTrack.on_rtp`` ->
``Egress.forward``) with real SRTP sessions and real loopback UDP sockets, but without ICE/DTLS
negotiation and without a load generator: SRTP-protected VP8 packets (1,100-byte payload,
mid + abs-send-time extensions) are fed to the socket callback in a loop, and the process CPU
time per forwarded packet is measured. Stages are isolated by switching them off one by one.

    python benchmarks/sfu/micro.py [--fanout 1 8 32] [--packets 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiortc import RTCCertificate  # noqa: E402
from aiortc.rtcdtlstransport import RTCDtlsTransport  # noqa: E402
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters  # noqa: E402
from aiortc.rtcrtpreceiver import RTCRtpReceiver  # noqa: E402
from aiortc.rtcrtpsender import RTCRtpSender  # noqa: E402
from aiortc.rtcrtptransceiver import RTCRtpTransceiver  # noqa: E402
from pylibsrtp import Policy, Session  # noqa: E402
from rtk_sfu.media import MediaConfig, MediaRouter  # noqa: E402
from rtk_sfu.media.forwarder import Egress, IngressTrack  # noqa: E402
from rtk_sfu.media.router import _TransportTap  # noqa: E402
from rtk_sfu.media.rtp import build_extension_block  # noqa: E402
from rtk_sfu.media.srtp import lean_protect  # noqa: E402

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97, parameters={})
RTX = RTCRtpCodecParameters(mimeType="video/rtx", clockRate=90000, payloadType=98, parameters={"apt": 97})
EXTS = [
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
    RTCRtpHeaderExtensionParameters(id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
]
PROFILE = Policy.SRTP_PROFILE_AEAD_AES_256_GCM  # what aiortc <-> aiortc/Chrome negotiate first
KEYLEN = 44


def session(key: bytes, outbound: bool) -> Session:
    pol = Policy(
        key=key,
        ssrc_type=Policy.SSRC_ANY_OUTBOUND if outbound else Policy.SSRC_ANY_INBOUND,
        srtp_profile=PROFILE,
    )
    pol.allow_repeat_tx = True
    pol.window_size = 1024
    return Session(pol)


def make_dtls() -> RTCDtlsTransport:
    return RTCDtlsTransport(RTCIceTransport(RTCIceGatherer()), [RTCCertificate.generateCertificate()])


class FakePeer:
    def __init__(self) -> None:
        self._ingress_by_mid: dict[str, IngressTrack] = {}


def build(
    router: MediaRouter, fanout: int, sink: tuple[str, int], send: bool, protect: bool, npkts: int
) -> tuple[Any, list[bytes], IngressTrack]:
    dtls = make_dtls()
    key = os.urandom(KEYLEN)
    dtls._rx_srtp = session(key, outbound=False)
    tx_pub = session(key, outbound=True)
    t = RTCRtpTransceiver("video", RTCRtpReceiver("video", dtls), RTCRtpSender("video", dtls))
    t._set_mid("0")
    t._codecs = [VP8, RTX]
    t._headerExtensions = EXTS
    ing = IngressTrack(router, "pub", "video", t)
    peer = FakePeer()
    peer._ingress_by_mid["0"] = ing
    tap = _TransportTap(peer, dtls)  # type: ignore[arg-type]

    keep: list[socket.socket] = []
    for i in range(fanout):
        e = Egress(router, f"sub{i}", "video", VP8)
        e.pt, e.ssrc, e.rtx_pt, e.rtx_ssrc, e.mid = 97, 1000 + i, 98, 2000 + i, str(i + 1)
        e.ext_prefix, e.ext_suffix = build_extension_block(1, e.mid, 3, 3)
        e.use_x, e.b0 = True, 0x90
        e.hdr_len = 12 + len(e.ext_prefix) + 3 + len(e.ext_suffix)
        e.protect = lean_protect(session(os.urandom(KEYLEN), outbound=True)) if protect else (lambda d: d)
        if send:
            out_i = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            out_i.setblocking(False)
            if router.config.connect_udp:
                out_i.connect(sink)
                e.send = out_i.send
            else:
                e.send = lambda d, _s=out_i.sendto: _s(d, sink)
            keep.append(out_i)
        else:
            e.send = lambda d: None
        e.bound = True
        e.attach(ing)
    # packets: a keyframe start first (so every egress starts), then delta packets
    pkts = []
    body = os.urandom(1100)
    ext = build_extension_block(1, "0", 3, 3)
    # SRTP replay protection: every packet fed to the receiver must be new
    for seq in range(npkts):
        vp8 = bytes([0x90, 0x80, 0x80 | (seq >> 8) & 0x7F, seq & 0xFF]) + (b"\x10" if seq == 0 else b"\x11")
        payload = vp8 + body
        hdr = struct.pack(
            "!BBHII",
            0x90,
            0x80 * (seq % 4 == 3) | 97,
            seq & 0xFFFF,
            (3000 * (seq // 4)) & 0xFFFFFFFF,
            0xABCDEF,
        )
        plain = hdr + ext[0] + (seq * 1000 & 0xFFFFFF).to_bytes(3, "big") + ext[1] + payload
        pkts.append(tx_pub.protect(plain))
    return tap, pkts, ing, keep  # type: ignore[return-value]


async def measure(
    fanout: int,
    n: int,
    send: bool = True,
    protect: bool = True,
    remb: bool = True,
    fast: bool = True,
    connect: bool = True,
) -> float:
    router = MediaRouter(MediaConfig(remb=remb, connect_udp=connect))
    # never read, tiny receive buffer: the kernel queues ~2 datagrams and drops the rest, so the
    # sender's socket buffer never fills (sendto always succeeds, as on a real NIC)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sink.bind(("127.0.0.1", 0))
    npkts = min(60000, n // fanout + 64)
    tap, pkts, ing, socks = build(router, fanout, sink.getsockname(), send, protect, npkts)
    handle = tap._make_fast_receive(lambda d, a: None)
    if not fast:  # stock-like ingress: pylibsrtp's own wrapper + the async handler
        srtp = tap.dtls._rx_srtp

        def handle(data: bytes, addr: Any) -> None:  # noqa: F811
            tap.handle_sync(srtp.unprotect(data), int(time.time() * 1000))

    for p in pkts[:64]:  # warm up (keyframe start, allocations)
        handle(p, None)
    from rtk_sfu.media import COUNTERS

    f0 = COUNTERS.rtp_packets_forwarded + COUNTERS.rtp_packets_dropped_send_error
    t0 = time.process_time()
    for p in pkts[64:]:
        handle(p, None)
    cpu = time.process_time() - t0
    count = COUNTERS.rtp_packets_forwarded + COUNTERS.rtp_packets_dropped_send_error - f0
    assert count == (len(pkts) - 64) * fanout, (count, len(pkts), fanout)
    sink.close()
    for so in socks:
        so.close()
    return cpu / count * 1e6


def primitives() -> list[tuple[str, float]]:
    key = os.urandom(KEYLEN)
    tx = session(key, True)
    rx = session(key, False)
    plain = (
        struct.pack("!BBHII", 0x90, 97, 1, 2, 3)
        + build_extension_block(1, "1", 3, 3)[0]
        + b"\x01\x02\x03"
        + build_extension_block(1, "1", 3, 3)[1]
        + os.urandom(1105)
    )
    prot = tx.protect(plain)
    lean = lean_protect(tx)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setblocking(False)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sink.bind(("127.0.0.1", 0))
    addr = sink.getsockname()
    hdr = struct.Struct("!BBHII")
    pre, suf = build_extension_block(1, "1", 3, 3)
    payload = os.urandom(1105)
    from aiortc import clock
    from aiortc.rtp import RtpPacket

    res = []

    def t(name: str, fn: Any, n: int = 100000) -> None:
        res.append((name, timeit.timeit(fn, number=n) / n * 1e6))

    t("aiortc RtpPacket.parse (stock ingress)", lambda: RtpPacket.parse(plain))
    t("pylibsrtp Session.unprotect (stock)", lambda: rx.unprotect(prot) if False else None, 10)
    t("pylibsrtp Session.protect (stock wrapper)", lambda: tx.protect(plain))
    t("lean protect (reused C buffer)", lambda: lean(plain))
    t(
        "header pack + join (rewrite)",
        lambda: b"".join((hdr.pack(0x90, 97, 5, 6, 7), pre, b"\x01\x02\x03", suf, payload)),
    )
    t("aiortc clock.current_ntp_time()", clock.current_ntp_time)
    t("socket.sendto 1.2 kB on loopback (unread sink)", lambda: s.sendto(prot, addr), 50000)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setblocking(False)
    c.connect(addr)
    t("connected socket.send 1.2 kB on loopback", lambda: c.send(prot), 50000)
    return res


async def amain(args: argparse.Namespace) -> None:
    print("rtk_sfu.media hot path, process CPU µs per forwarded packet (1.1 kB VP8 payload, AES-256-GCM)")
    print(
        "| fan-out | full path | unconnected sendto | no send | no send, no SRTP protect | full, REMB off "
        "| stock pylibsrtp unprotect |"
    )
    print("|---|---|---|---|---|---|---|")
    for k in args.fanout:
        full = await measure(k, args.packets)
        unconn = await measure(k, args.packets, connect=False)
        nosend = await measure(k, args.packets, send=False)
        noprot = await measure(k, args.packets, send=False, protect=False)
        noremb = await measure(k, args.packets, remb=False)
        stock = await measure(k, args.packets, fast=False)
        print(
            f"| {k} | {full:.2f} | {unconn:.2f} | {nosend:.2f} | {noprot:.2f} | {noremb:.2f} | {stock:.2f} |"
        )
    print("\nprimitives (µs per call):")
    for name, us in primitives():
        if "unprotect (stock)" in name:
            continue
        print(f"  {name:<50} {us:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fanout", type=int, nargs="*", default=[1, 4, 8, 16, 32])
    ap.add_argument("--packets", type=int, default=100000)
    asyncio.run(amain(ap.parse_args()))


if __name__ == "__main__":
    main()
