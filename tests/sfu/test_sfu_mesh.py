"""Peers decode each other's audio and video through the real stack (gateway relay → SFU),
over real RTP on loopback. Every media assertion is on what the SDK clients decoded."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from sfu_stack_helpers import VGA_VIDEO, joined, remote_track, sfu_metrics, until

pytestmark = pytest.mark.media


async def _expect_mesh(peers, video_frames: int = 3, audio_frames: int = 10, size=(640, 480)) -> None:
    async def one(me, other) -> None:
        video = await remote_track(me, other.self.id, "video", timeout=20)
        audio = await remote_track(me, other.self.id, "audio", timeout=20)
        await video.wait_for_frames(video_frames, timeout=20)
        await audio.wait_for_frames(audio_frames, timeout=20)
        assert (video.width, video.height) == size, video
        participant = await until(lambda: me.participants.joined.get(other.self.id))
        assert participant.video_track is video and participant.audio_track is audio

    await asyncio.gather(*(one(me, other) for me, other in itertools.permutations(peers, 2)))


async def test_two_peers_decode_each_other(stack, api, connect) -> None:
    before = sfu_metrics(stack)
    meeting_id = await api.meeting()
    a = await joined(connect, await api.token(meeting_id), defaults=VGA_VIDEO)
    b = await joined(connect, await api.token(meeting_id), defaults=VGA_VIDEO)
    assert a.meta.media is not None and a.meta.media["node_id"] == b.meta.media["node_id"]
    assert b.meta.media["reason"] == "SESSION_PINNED"
    video_event = a.participants.joined.wait_for("videoUpdate", lambda p, payload: payload["video_track"] is not None)
    await asyncio.gather(a.self.enable_video(), a.self.enable_audio(), b.self.enable_video(), b.self.enable_audio())
    participant, payload = await video_event
    assert participant.id == b.self.id and payload["video_enabled"] in (True, False)
    await _expect_mesh([a, b])
    assert a.self.video_enabled and a.participants.joined[b.self.id].video_enabled
    received = {(r.peer_id, r.kind): r for r in a.received_tracks()}  # what recorders and bots tap
    assert set(received) == {(b.self.id, "audio"), (b.self.id, "video")}
    assert received[(b.self.id, "video")].track is a.participants.joined[b.self.id].video_track
    assert received[(b.self.id, "video")].receiver.track is not None
    timing = b.meta.join_timing  # seconds from join(): exposed by the SDK for every client
    print(f"\njoin timing (b, incl. enabling media): {timing.to_dict()}")
    assert timing is b._media.timing and set(timing.to_dict()) == {
        "joined", "media_connected", "first_remote_frame", "first_remote_audio"}
    assert 0 < timing.joined <= timing.media_connected <= timing.first_remote_frame
    assert timing.first_remote_audio is not None and timing.first_remote_audio >= timing.media_connected
    after = sfu_metrics(stack)
    assert after["rtk_sfu_frames_decoded_total"] == 0  # the SFU forwards, never decodes
    assert after["rtk_sfu_rtp_packets_forwarded_total"] > before["rtk_sfu_rtp_packets_forwarded_total"]


async def test_five_peers_full_mesh(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    tokens = await asyncio.gather(*(api.token(meeting_id) for _ in range(5)))
    peers = [await joined(connect, token, defaults=VGA_VIDEO) for token in tokens]
    await asyncio.gather(*(p.self.enable_video() for p in peers), *(p.self.enable_audio() for p in peers))
    started = time.monotonic()
    await _expect_mesh(peers)
    print(f"\n5 peers: every one decoded the 4 others' 640x480 video and audio in {time.monotonic() - started:.2f}s")
    assert sfu_metrics(stack)["rtk_sfu_frames_decoded_total"] == 0


async def test_late_joiner_gets_a_keyframe_promptly(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    a = await joined(connect, await api.token(meeting_id))
    b = await joined(connect, await api.token(meeting_id))
    await asyncio.gather(a.self.enable_video(), b.self.enable_video())
    first = await remote_track(b, a.self.id, "video")
    await first.wait_for_frames(3)
    await asyncio.sleep(1.5)  # the publishers are well past their first keyframe
    before = sfu_metrics(stack)
    late = await connect(await api.token(meeting_id))
    await late.join()
    latencies = []
    for publisher in (a, b):
        track = await remote_track(late, publisher.self.id, "video")
        await track.wait_for_frames(1, timeout=10)
        connected = late.meta.join_timing.media_connected
        assert connected is not None
        base = max(late.meta.join_timing.started_at + connected, track.attached_at)
        latencies.append(track.first_frame_at - base)
    timing = late.meta.join_timing.to_dict()
    print(f"\nlate joiner: keyframe latency after its connection is up {[round(x, 3) for x in latencies]}s; "
          f"join → first remote frame {timing['first_remote_frame']}s ({timing})")
    # Promptly because the SFU asks for it: a PLI upstream per new subscription, and the late
    # joiner's streams start at a keyframe (the publishers' encoders send none on their own).
    after = sfu_metrics(stack)
    assert after["rtk_sfu_plis_sent_total"] - before["rtk_sfu_plis_sent_total"] >= 2
    assert after["rtk_sfu_keyframes_forwarded_total"] - before["rtk_sfu_keyframes_forwarded_total"] >= 2
    # The bound: a keyframe within 1 s of the late joiner's connection being up (measured
    # 0.15-0.2 s on a 2-core machine running the whole stack and three clients).
    assert max(latencies) < 1.0
    assert timing["first_remote_frame"] < 5.0


async def test_screen_share_is_its_own_track(stack, api, connect) -> None:
    from realtimekit.sources import TestPatternVideoTrack

    meeting_id = await api.meeting()
    a = await joined(connect, await api.token(meeting_id))
    b = await joined(connect, await api.token(meeting_id))
    await a.self.enable_video()
    update = b.participants.joined.wait_for(
        "screenShareUpdate", lambda p, payload: payload["screen_share_tracks"]["video"] is not None)
    await a.self.enable_screen_share(TestPatternVideoTrack(480, 272, fps=5))
    participant, _ = await update
    share = participant.screen_share_track
    camera = await remote_track(b, a.self.id, "video")
    await share.wait_for_frames(2)
    await camera.wait_for_frames(2)
    assert share is not camera and share.mid != camera.mid
    assert (share.width, share.height) == (480, 272) and (camera.width, camera.height) == (320, 240)
    assert a.self.screen_share_enabled and participant.screen_share_enabled
    gone = b.participants.joined.wait_for(
        "screenShareUpdate", lambda p, payload: payload["screen_share_tracks"]["video"] is None)
    await a.self.disable_screen_share()
    await gone
    assert participant.screen_share_track is None and participant.video_track is camera


async def test_manual_subscription_picks_peers(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    a = await joined(connect, await api.token(meeting_id))
    b = await joined(connect, await api.token(meeting_id))
    viewer = await connect(await api.token(meeting_id), auto_subscribe=False)
    await viewer.join()
    await asyncio.gather(a.self.enable_video(), b.self.enable_video())
    await viewer.participants.set_subscriptions([b.self.id], ["video"])
    track = await remote_track(viewer, b.self.id, "video")
    await track.wait_for_frames(2)
    assert viewer._media.track_of(a.self.id, "video") is None
    await viewer.participants.subscribe([a.self.id])
    await (await remote_track(viewer, a.self.id, "video")).wait_for_frames(1)
    await viewer.participants.unsubscribe([b.self.id])
    await until(lambda: viewer._media.track_of(b.self.id, "video") is None, 10)


async def test_active_speaker_is_pushed(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    a = await joined(connect, await api.token(meeting_id))
    b = await joined(connect, await api.token(meeting_id))
    speaker = b.participants.wait_for("activeSpeaker", lambda e: e["peer_id"] == a.self.id, timeout=15)
    await a.self.enable_audio()
    event = await speaker
    assert event["volume"] > 0 and b.participants.last_active_speaker == a.self.id
