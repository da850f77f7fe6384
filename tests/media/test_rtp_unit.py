"""Unit tests of the allocation-light RTP helpers and of the decoder guard (no network)."""

from __future__ import annotations

import asyncio
import fractions
import queue
import struct
import threading

import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket
from rtk_sfu.media import COUNTERS, _compat
from rtk_sfu.media.rtp import (
    build_extension_block,
    find_mid,
    h264_is_keyframe_start,
    parse_header,
    scan_extensions,
    seq_newer,
    vp8_is_keyframe_start,
)

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)


def vp8_payloads(keyframe: bool) -> list[bytes]:
    """RTP payloads (with VP8 payload descriptors) of the first (key) or fifth (delta) frame."""
    import numpy as np

    enc = get_encoder(VP8)
    rng = np.random.default_rng(1)
    payloads: list[bytes] = []
    for i in range(1 if keyframe else 5):
        img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i * 3000
        frame.time_base = fractions.Fraction(1, 90000)
        payloads, _ = enc.encode(frame, force_keyframe=i == 0)
    return payloads


def test_vp8_keyframe_detection() -> None:
    key = vp8_payloads(True)
    assert vp8_is_keyframe_start(key[0])
    assert not any(vp8_is_keyframe_start(p) for p in key[1:])
    delta = vp8_payloads(False)
    assert not vp8_is_keyframe_start(delta[0])
    assert not vp8_is_keyframe_start(b"")


def test_h264_keyframe_detection() -> None:
    assert h264_is_keyframe_start(bytes([0x65, 0x88]))  # IDR
    assert h264_is_keyframe_start(bytes([0x67, 0x42]))  # SPS
    assert not h264_is_keyframe_start(bytes([0x41, 0x9A]))  # non-IDR slice
    stap = (
        bytes([0x78])
        + struct.pack("!H", 2)
        + bytes([0x67, 0x42])
        + struct.pack("!H", 2)
        + bytes([0x68, 0xCE])
    )
    assert h264_is_keyframe_start(stap)
    assert h264_is_keyframe_start(bytes([0x7C, 0x85, 0x00]))  # FU-A start of IDR
    assert not h264_is_keyframe_start(bytes([0x7C, 0x05, 0x00]))  # FU-A continuation


def test_parse_header_matches_aiortc() -> None:
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
    from aiortc.rtp import HeaderExtensionsMap

    ext_map = HeaderExtensionsMap()
    ext_map.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
                RTCRtpHeaderExtensionParameters(id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
                RTCRtpHeaderExtensionParameters(
                    id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                ),
            ]
        )
    )
    pkt = RtpPacket(
        payload_type=97,
        marker=1,
        sequence_number=65535,
        timestamp=123456789,
        ssrc=0xDEADBEEF,
        payload=b"xyz" * 10,
    )
    pkt.csrc = [1, 2]
    pkt.extensions.mid = "12"
    pkt.extensions.abs_send_time = 0x123456
    pkt.extensions.audio_level = (True, 42)
    data = pkt.serialize(ext_map)
    b1, seq, ts, xs, xe, ps, pe = parse_header(data)
    assert (b1 & 0x7F, b1 >> 7, seq, ts) == (97, 1, 65535, 123456789)
    assert data[ps:pe] == b"xyz" * 10
    assert scan_extensions(data, xs, xe, 3, 2) == (0x123456, 0x80 | 42)
    assert find_mid(data, xs, xe, 1) == "12"
    # padding is stripped
    padded = bytearray(struct.pack("!BBHII", 0xA0, 97, 1, 2, 3) + b"abcd" + b"\x00\x00\x03")
    *_, ps, pe = parse_header(bytes(padded))
    assert bytes(padded[ps:pe]) == b"abcd"
    with pytest.raises((ValueError, struct.error)):
        parse_header(b"\x80\x60")


def test_extension_block_is_parseable_by_aiortc() -> None:
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
    from aiortc.rtp import HeaderExtensionsMap

    prefix, suffix = build_extension_block(1, "7", 3, 3)
    data = struct.pack("!BBHII", 0x90, 97, 9, 10, 11) + prefix + b"\x01\x02\x03" + suffix + b"payload"
    ext_map = HeaderExtensionsMap()
    ext_map.configure(
        RTCRtpParameters(
            headerExtensions=[
                RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
                RTCRtpHeaderExtensionParameters(
                    id=3, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
                ),
            ]
        )
    )
    pkt = RtpPacket.parse(data, ext_map)
    assert pkt.extensions.mid == "7"
    assert pkt.extensions.abs_send_time == 0x010203
    assert pkt.payload == b"payload"


def test_seq_newer_wraps() -> None:
    assert seq_newer(1, 65535)
    assert not seq_newer(65535, 1)
    assert not seq_newer(5, 5)


def test_decoder_guard_counts_frames_of_sfu_receivers() -> None:
    """The frames_decoded metric is real: a frame reaching an SFU receiver's decoder is decoded
    and counted (the forwarder never lets one get there)."""

    class FakeTrack:
        def __init__(self) -> None:
            self._queue = asyncio.Queue()

    class FakeReceiver:
        track = FakeTrack()

    receiver = FakeReceiver()
    _compat.mark_sfu_receiver(receiver)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        input_q: queue.Queue = queue.Queue()
        keyframe = b"".join(
            p[1:] if not (p[0] & 0x80) else p[4:] for p in vp8_payloads(True)
        )  # strip descriptors
        input_q.put((VP8, JitterFrame(data=keyframe, timestamp=0)))
        input_q.put(None)
        before = COUNTERS.frames_decoded
        runner = threading.Thread(target=loop.run_forever)
        runner.start()
        worker = threading.Thread(
            target=_compat._dispatch_decoder_worker,
            args=(loop, input_q, receiver.track._queue, threading.Event()),
        )
        worker.start()
        worker.join(5)
        # let the loop run what the worker handed over (run_coroutine_threadsafe) before stopping
        for _ in range(3):
            asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        assert COUNTERS.frames_decoded == before + 1
        assert receiver.track._queue.empty()  # nothing delivered to the (SFU) track
    finally:
        COUNTERS.frames_decoded = 0  # the end-to-end tests assert the SFU's own count stays 0
        loop.close()


def test_egress_rewrites_contiguously_across_wraparound_and_switch() -> None:
    """70,000 packets (two 16-bit wraps) and a source switch: every packet forwarded, outgoing
    sequence numbers contiguous, SSRC/PT rewritten, timestamps monotonic."""
    from rtk_sfu.media import MediaConfig, MediaRouter
    from rtk_sfu.media.forwarder import Egress

    router = MediaRouter(MediaConfig())
    sent: list[bytes] = []

    class Source:
        detector = staticmethod(lambda payload: payload[:1] == b"K")
        egresses: list = []

        def request_keyframe(self) -> None:
            pass

    e = Egress(router, "sub", "video", VP8)
    e.pt, e.ssrc, e.b0, e.hdr_len = 100, 0x11223344, 0x80, 12
    e.protect = lambda d: d
    e.send = sent.append
    e.bound = True
    src_a, src_b = Source(), Source()
    e.attach(src_a)  # type: ignore[arg-type]
    seq, ts = 65000, 4294960000
    for i in range(70000):
        payload = b"K" if i == 0 else b"d"
        assert (
            e.forward((seq + i) & 0xFFFF, (ts + 3000 * (i // 3)) & 0xFFFFFFFF, 0, payload, b"", i / 90.0, 0)
            == 1
        )
    # switch to another source whose numbering is unrelated; waits for its keyframe
    e.attach(src_b)  # type: ignore[arg-type]
    assert e.forward(123, 999, 0, b"d", b"", 800.0, 0) == 0
    for i in range(10):
        assert e.forward(124 + i, 5000 + 3000 * i, 0, b"K" if i == 0 else b"d", b"", 800.1 + i / 30, 0) == 1
    assert e.forward(100, 5000, 0, b"d", b"", 801.0, 0) == 0  # from before the switch point
    seqs = [struct.unpack_from("!H", d, 2)[0] for d in sent]
    tss = [struct.unpack_from("!I", d, 4)[0] for d in sent]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert all(0 <= (b - a) & 0xFFFFFFFF < 0x80000000 for a, b in zip(tss, tss[1:], strict=False))
    assert {struct.unpack_from("!I", d, 8)[0] for d in sent} == {0x11223344}
    assert {d[1] & 0x7F for d in sent} == {100}
