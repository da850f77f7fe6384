"""End-to-end forwarding over real loopback RTP: aiortc clients <-> rtk_sfu.media <-> aiortc
clients. Every assertion on media is made on what the *clients* decoded."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from aiortc import RTCRtpSender
from rtk_sfu.media import IceConfig, MediaConfig
from rtk_sfu.media.rtp import U32, parse_header, vp8_is_keyframe_start
from sfu_media_helpers import (
    Harness,
    PatternVideoTrack,
    ToneAudioTrack,
    count_keyframe_requests,
    metric,
    payload_type,
    tap_incoming_rtp,
    wait_for,
)

pytestmark = pytest.mark.media

SIZES = [(320, 240), (352, 288), (256, 192), (288, 224), (320, 176)]


def all_receiving(h: Harness, kinds=("video", "audio"), video_frames=8, audio_frames=25) -> bool:
    for sub in h.clients.values():
        for pub in h.clients:
            if pub == sub.peer_id:
                continue
            for kind in kinds:
                st = sub.stats_for(pub, kind)
                if st is None or st.frames < (video_frames if kind == "video" else audio_frames):
                    return False
    return True


async def publish_av(h: Harness, fps: int = 15) -> None:
    for i, client in enumerate(h.clients.values()):
        w, hgt = SIZES[i % len(SIZES)]
        await client.publish(
            ("video", PatternVideoTrack(w, hgt, fps, seed=i)), ("audio", ToneAudioTrack(300 + 100 * i))
        )


async def test_two_peers_decode_each_other(harness: Harness) -> None:
    forwarded0 = metric("rtk_sfu_rtp_packets_forwarded_total")
    a = await harness.join("a")
    b = await harness.join("b")
    await publish_av(harness)
    await harness.full_mesh()
    assert await wait_for(lambda: all_receiving(harness), 20), {c.peer_id: c.received for c in (a, b)}
    assert a.stats_for("b", "video").sizes == {SIZES[1]}
    assert b.stats_for("a", "video").sizes == {SIZES[0]}
    assert metric("rtk_sfu_rtp_packets_forwarded_total") > forwarded0
    await asyncio.sleep(1.2)  # let the load window elapse
    load = harness.router.load()
    assert load.peers == 2 and load.published_tracks == 4 and load.subscriptions == 4
    assert load.packets_out_per_s > 0 and load.packets_in_per_s > 0
    # exposed as Prometheus gauges too
    assert metric("rtk_sfu_subscriptions") >= 4
    assert metric("rtk_sfu_frames_decoded_total") == 0


async def test_five_peers_full_mesh(harness: Harness) -> None:
    for i in range(5):
        await harness.join(f"p{i}")
    await publish_av(harness, fps=10)
    await harness.full_mesh()
    assert await wait_for(lambda: all_receiving(harness, video_frames=5, audio_frames=20), 30), {
        c.peer_id: {m: (r.kind, r.frames) for m, r in c.received.items()} for c in harness.clients.values()
    }
    for i, sub in enumerate(harness.clients.values()):
        for j, pub in enumerate(harness.clients):
            if i != j:
                assert sub.stats_for(pub, "video").sizes == {SIZES[j]}, (sub.peer_id, pub)
    assert metric("rtk_sfu_frames_decoded_total") == 0


@pytest.mark.parametrize("media_config", [MediaConfig(ice=IceConfig(addresses=("127.0.0.1",)), remb=False)])
async def test_late_joiner_gets_keyframe_promptly(harness: Harness) -> None:
    # REMB off: aiortc's VP8 encoder then never restarts (no bitrate-driven keyframes) and its
    # GOP is 3000 frames, so the only way a late joiner can start is the SFU's PLI.
    a = await harness.join("a")
    b = await harness.join("b")
    await a.publish(("video", PatternVideoTrack(320, 240, 15)))
    keyframe_requests = count_keyframe_requests(a)
    harness.router.subscribe("b", "a", "video")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 10, 15)
    await asyncio.sleep(2.0)  # the publisher's first keyframe is now long gone
    plis_before = metric("rtk_sfu_plis_sent_total")
    c = await harness.join("c")
    t0 = time.monotonic()
    harness.router.subscribe("c", "a", "video")
    await c.renegotiate()
    assert await wait_for(lambda: (s := c.stats_for("a", "video")) is not None and s.frames >= 1, 10)
    elapsed = c.stats_for("a", "video").first_frame_at - t0
    print(f"late joiner: first decoded frame {elapsed * 1000:.0f} ms after subscribe (incl. ICE+DTLS)")
    assert elapsed < 3.0  # typically ~0.1-0.3 s; generous for a loaded CI machine
    assert metric("rtk_sfu_plis_sent_total") > plis_before
    assert any(t >= t0 for t in keyframe_requests)
    # the earlier subscriber was not disturbed
    assert b.stats_for("a", "video").sizes == {(320, 240)}


@pytest.mark.parametrize("media_config", [
    MediaConfig(ice=IceConfig(addresses=("127.0.0.1",)), remb=False, pli_interval=30.0, keyframe_retry=30.0)
])
async def test_keyframe_requests_share_one_pli_and_a_request_after_the_keyframe_gets_its_own(
    harness: Harness,
) -> None:
    """Subscribers that ask for a keyframe while one is on its way share that PLI (no storm when
    many join at once); a subscriber asking after it arrived gets a PLI of its own right away, not
    after ``pli_interval`` (30 s here, so the old per-interval throttle would fail this test)."""
    a = await harness.join("a")
    b = await harness.join("b")
    await a.publish(("video", PatternVideoTrack(320, 240, 15)))
    harness.router.subscribe("b", "a", "video")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 10, 15)
    requests = count_keyframe_requests(a)
    ingress = harness.router._producers[("a", "video")]

    for _ in range(5):  # five subscribers asking at once
        ingress.request_keyframe()
    assert await wait_for(lambda: len(requests) >= 1, 5)
    frames_before = b.stats_for("a", "video").frames
    await asyncio.sleep(0.6)  # the keyframe reaches the SFU and b
    assert len(requests) == 1, requests
    assert b.stats_for("a", "video").frames > frames_before

    ingress.request_keyframe()  # a subscriber joining just after that keyframe
    assert await wait_for(lambda: len(requests) >= 2, 5), "the next PLI waited for pli_interval"


async def test_screenshare_is_its_own_track(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    labels = await a.publish(
        ("video", PatternVideoTrack(320, 240, 15)),
        ("screenshare", PatternVideoTrack(640, 360, 5, seed=7)),
        ("screenshare_audio", ToneAudioTrack(880)),
    )
    assert sorted(labels.values()) == ["screenshare", "screenshare_audio", "video"]
    assert set(harness.router.producers()) == {
        ("a", "video"),
        ("a", "screenshare"),
        ("a", "screenshare_audio"),
    }
    assert a.transport.published() == labels
    for kind in ("video", "screenshare", "screenshare_audio"):
        harness.router.subscribe("b", "a", kind)
    await harness.settle()
    assert await wait_for(
        lambda: all(
            (s := b.stats_for("a", k)) is not None and s.frames >= 3
            for k in ("video", "screenshare", "screenshare_audio")
        ),
        20,
    )
    infos = {i.kind: i.mid for i in b.transport.subscriptions()}
    assert len(set(infos.values())) == 3  # three distinct m-lines
    assert b.stats_for("a", "video").sizes == {(320, 240)}
    assert b.stats_for("a", "screenshare").sizes == {(640, 360)}
    assert b.stats_for("a", "screenshare_audio").kind == "audio"


async def test_disallowed_producer_is_not_forwarded(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    c = await harness.join("c")
    harness.router.set_producer_allowed("c", "video", False)  # refused before publishing
    await a.publish(("video", PatternVideoTrack(320, 240, 15)), ("audio", ToneAudioTrack()))
    await c.publish(("video", PatternVideoTrack(256, 192, 15)))
    for pub, kind in (("a", "video"), ("a", "audio"), ("c", "video")):
        harness.router.subscribe("b", pub, kind)
    await harness.settle()
    assert await wait_for(
        lambda: all((s := b.stats_for("a", k)) is not None and s.frames >= 5 for k in ("video", "audio")), 15
    )
    dropped0 = metric("rtk_sfu_rtp_packets_dropped_not_allowed_total")

    # host mute: stop a's video, audio continues
    harness.router.set_producer_allowed("a", "video", False)
    await asyncio.sleep(0.3)  # frames already in flight / in the client's jitter buffer
    video_frames = b.stats_for("a", "video").frames
    audio_frames = b.stats_for("a", "audio").frames
    await asyncio.sleep(1.5)
    assert b.stats_for("a", "video").frames <= video_frames + 1
    assert b.stats_for("a", "audio").frames >= audio_frames + 30
    assert metric("rtk_sfu_rtp_packets_dropped_not_allowed_total") > dropped0
    # c's refused video never reached b
    sc = b.stats_for("c", "video")
    assert sc is None or sc.frames == 0

    # unmute: forwarding resumes at a keyframe (PLI upstream)
    harness.router.set_producer_allowed("a", "video", True)
    assert await wait_for(lambda: b.stats_for("a", "video").frames >= video_frames + 10, 10)


async def test_remove_peer_cuts_forwarding_at_once(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    c = await harness.join("c")
    await a.publish(("video", PatternVideoTrack(320, 240, 15)), ("audio", ToneAudioTrack()))
    await c.publish(("audio", ToneAudioTrack(550)))
    harness.router.subscribe("b", "a", "video")
    harness.router.subscribe("b", "a", "audio")
    harness.router.subscribe("b", "c", "audio")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 5, 15)
    mids = {(i.publisher_id, i.kind): i.mid for i in b.transport.subscriptions()}
    removed: list[tuple[str, str]] = []
    harness.router.on_producer_removed = lambda peer, kind: removed.append((peer, kind))
    received_before = {k: b.received[m].frames for k, m in mids.items()}
    await harness.router.remove_peer("a")
    await asyncio.sleep(0.3)  # frames already inside the client's jitter buffer / decoder
    after_cut = {k: b.received[m].frames for k, m in mids.items()}
    await asyncio.sleep(1.0)
    assert b.received[mids[("a", "video")]].frames <= after_cut[("a", "video")]
    assert b.received[mids[("a", "audio")]].frames <= after_cut[("a", "audio")]
    assert b.received[mids[("c", "audio")]].frames >= after_cut[("c", "audio")] + 25  # others unaffected
    assert sorted(removed) == [("a", "audio"), ("a", "video")]
    assert ("a", "video") not in harness.router.producers()
    assert {(s.publisher_id, s.kind) for s in harness.router.subscriptions("b")} == {("c", "audio")}
    assert "a" not in harness.router.peers
    assert received_before[("a", "video")] >= 5
    harness.clients.pop("a")
    await a.close()


async def test_switching_publisher_keeps_stream_contiguous(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    c = await harness.join("c")
    await a.publish(("video", PatternVideoTrack(320, 240, 15)))
    await c.publish(("video", PatternVideoTrack(256, 192, 15, seed=3)))
    sub = harness.router.subscribe("b", "a", "video")
    await harness.settle()
    mid = sub.mid
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 5, 15)
    vp8 = payload_type(b, "video/VP8")
    seen: list[tuple[float, int, int, int, bool]] = []

    def record(data: bytes) -> bool:
        b1, seq, ts, _xs, _xe, ps, pe = parse_header(data)
        if (b1 & 0x7F) in vp8:
            seen.append(
                (time.monotonic(), U32.unpack_from(data, 8)[0], seq, ts, vp8_is_keyframe_start(data[ps:pe]))
            )
        return True

    tap_incoming_rtp(b, record)
    await asyncio.sleep(0.5)
    renegotiations = b.renegotiations
    assert harness.router.unsubscribe("b", "a", "video")
    t_switch = time.monotonic()
    sub2 = harness.router.subscribe("b", "c", "video")
    assert sub2.mid == mid and sub2.active  # same m-line reused, no renegotiation
    assert await wait_for(lambda: (256, 192) in b.received[mid].sizes and b.received[mid].frames >= 10, 10)
    assert b.renegotiations == renegotiations
    assert [i.publisher_id for i in b.transport.subscriptions()] == ["c"]
    # one SSRC throughout; the first packet from c follows the last packet from a
    assert len({s[1] for s in seen}) == 1
    first_new = next(i for i, s in enumerate(seen) if s[0] > t_switch and s[4])
    prev = seen[first_new - 1]
    assert seen[first_new][2] == (prev[2] + 1) & 0xFFFF
    assert 0 < (seen[first_new][3] - prev[3]) & 0xFFFFFFFF < 0x80000000


async def test_active_speaker(harness: Harness) -> None:
    reports: list[tuple[float, str]] = []
    harness.router.on_active_speaker = lambda peer: reports.append((time.monotonic(), peer))
    a = await harness.join("a")
    b = await harness.join("b")
    tone_a = ToneAudioTrack(440, amplitude=0.5)
    tone_b = ToneAudioTrack(660, amplitude=0.0)
    await a.publish(("audio", tone_a))
    await b.publish(("audio", tone_b))
    assert await wait_for(lambda: reports and reports[-1][1] == "a", 10), reports
    tone_a.amplitude, tone_b.amplitude = 0.0, 0.5
    assert await wait_for(lambda: reports[-1][1] == "b", 10), reports
    assert harness.router.active_speaker == "b"
    gaps = [t2 - t1 for (t1, _), (t2, _) in zip(reports, reports[1:], strict=False)]
    assert all(g >= 0.25 for g in gaps), gaps  # at most one report per ~300 ms


async def test_h264_forwarded_when_offered(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    h264 = [
        c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType in ("video/H264", "video/rtx")
    ]
    await a.publish(("video", PatternVideoTrack(320, 240, 15)), codecs={"video": h264})
    harness.router.subscribe("b", "a", "video")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 10, 20)
    assert b.stats_for("a", "video").sizes == {(320, 240)}
    sub_t = next(t for t in b.pc.getTransceivers() if t.mid == b.transport.subscriptions()[0].mid)
    assert sub_t._codecs[0].mimeType == "video/H264"


@pytest.mark.parametrize(
    "media_config",
    [
        MediaConfig(
            ice=IceConfig(
                addresses=("0.0.0.0",), announced_address="127.0.0.1", port_min=42100, port_max=42119
            )
        )
    ],
)
async def test_ice_port_range_and_announced_address(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    a_pc = a.pc
    await a.publish(("video", PatternVideoTrack(320, 240, 15)))
    answer = a_pc.remoteDescription.sdp
    cands = re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)", answer)
    assert cands and all(host == "127.0.0.1" and 42100 <= int(port) <= 42119 for host, port, _ in cands), (
        cands
    )
    harness.router.subscribe("b", "a", "video")
    await harness.settle()
    offer = b.pc.remoteDescription.sdp
    assert all(
        h == "127.0.0.1" and 42100 <= int(p) <= 42119
        for h, p, _ in re.findall(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ (\w+)", offer)
    )
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 5, 15)


async def test_invalid_requests_are_errors(harness: Harness) -> None:
    from rtk_sfu.media import MediaError

    a = await harness.join("a")
    await harness.join("b")
    a.pc.addTransceiver(PatternVideoTrack(), direction="sendonly")
    await a.pc.setLocalDescription(await a.pc.createOffer())
    mid = a.pc.getTransceivers()[0].mid
    with pytest.raises(MediaError):  # a video m-line labelled as audio
        await a.transport.handle_offer(a.pc.localDescription.sdp, {mid: "audio"})
    with pytest.raises(MediaError):
        await a.transport.handle_offer(a.pc.localDescription.sdp, {mid: "hologram"})
    assert a.transport.pc.signalingState == "stable"  # nothing was applied
    with pytest.raises(MediaError):
        harness.router.subscribe("b", "a", "video")
    with pytest.raises(MediaError):
        harness.router.set_producer_allowed("a", "hologram", False)
    with pytest.raises(MediaError):
        await harness.router.add_peer("a")


async def test_subscriber_publishes_later_on_same_connection(harness: Harness) -> None:
    """Server-initiated negotiation first, then a client offer that also carries the SFU's
    m-lines; then the SFU renegotiates again. Forwarding survives every round."""
    a = await harness.join("a")
    b = await harness.join("b")
    await a.publish(("video", PatternVideoTrack(320, 240, 15)), ("audio", ToneAudioTrack()))
    harness.router.subscribe("b", "a", "video")
    harness.router.subscribe("b", "a", "audio")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 5, 15)
    await b.publish(("video", PatternVideoTrack(256, 192, 15)))
    assert ("b", "video") in harness.router.producers()
    harness.router.subscribe("a", "b", "video")
    await harness.settle()
    assert await wait_for(lambda: (s := a.stats_for("b", "video")) is not None and s.frames >= 5, 15)
    frames = b.stats_for("a", "video").frames
    assert await wait_for(lambda: b.stats_for("a", "video").frames >= frames + 10, 10)
    assert a.stats_for("b", "video").sizes == {(256, 192)}


async def test_publisher_deactivating_a_track_unpublishes_it(harness: Harness) -> None:
    a = await harness.join("a")
    b = await harness.join("b")
    removed: list[tuple[str, str]] = []
    harness.router.on_producer_removed = lambda peer, kind: removed.append((peer, kind))
    await a.publish(("video", PatternVideoTrack(320, 240, 15)), ("audio", ToneAudioTrack()))
    harness.router.subscribe("b", "a", "video")
    await harness.settle()
    assert await wait_for(lambda: (s := b.stats_for("a", "video")) is not None and s.frames >= 5, 15)
    video_t = next(t for t in a.pc.getTransceivers() if t.kind == "video")
    video_t.direction = "inactive"
    async with a._lock:
        await a.pc.setLocalDescription(await a.pc.createOffer())
        answer = await a.transport.handle_offer(a.pc.localDescription.sdp)
        await a.pc.setRemoteDescription(type(a.pc.localDescription)(sdp=answer, type="answer"))
    assert removed == [("a", "video")]
    assert set(harness.router.producers()) == {("a", "audio")}
    assert harness.router.subscriptions("b") == []
