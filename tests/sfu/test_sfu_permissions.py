"""The SFU enforces the orchestrator's decisions on media, through the real stack with SDK peers:
presets, stage, host mute and kick. It asks the orchestrator and does not trust the client, so
several tests make a client misbehave (keep sending after a refusal or a mute) and check that the
SFU still forwards nothing: what a subscriber decodes, what the SFU reports for each peer
(SfuService.GetPeerMedia) and its packet counters."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from realtimekit import PermissionDenied
from realtimekit.sources import TestPatternVideoTrack as PatternTrack
from sfu_stack_helpers import (
    joined,
    metric_rises,
    peer_media,
    received_from,
    remote_track,
    sfu_metrics,
    until,
)

pytestmark = pytest.mark.media

DROPPED = "rtk_sfu_rtp_packets_dropped_not_allowed_total"


async def _publish_anyway(meeting, label: str) -> dict:
    """A misbehaving client: turn `label` back on and renegotiate although the SFU refused it;
    returns the SFU's refusals of that offer."""
    media = meeting._media
    async with media._pub_lock:
        entry = media._published[label]
        entry.outgoing.set_source(PatternTrack(320, 240, fps=10))
        entry.transceiver.direction = "sendonly"
        return await media._negotiate()


def _kinds(tracks) -> set[str]:
    from realtime.signaling.v1 import signal_pb2

    return {signal_pb2.TrackKind.Name(t.kind).removeprefix("TRACK_KIND_").lower() for t in tracks}


async def test_preset_not_allowed_cannot_publish(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    no_video = await api.preset_variant("group_call_participant", {"video": "NOT_ALLOWED"})
    a = await joined(connect, await api.token(meeting_id, no_video))
    b = await joined(connect, await api.token(meeting_id))
    refused_key = "rtk_sfu_producers_refused_total{reason=PERMISSION_DENIED_BY_PRESET}"
    refused_before = sfu_metrics(stack).get(refused_key, 0.0)

    with pytest.raises(PermissionDenied) as refused:
        await a.self.enable_video()
    assert refused.value.reason == "PERMISSION_DENIED_BY_PRESET" and refused.value.code == "0101"
    assert refused.value.details.get("kind") == "video"
    assert not a.self.video_enabled and a.self.video_track is None
    assert sfu_metrics(stack)[refused_key] > refused_before  # refused by the SFU, not by the SDK

    # What the preset allows flows; once b decodes a's audio, the SFU forwards b nothing else of a.
    await a.self.enable_audio()
    await (await remote_track(b, a.self.id, "audio")).wait_for_frames(5)
    assert received_from(await peer_media(stack, b.self.id)) == {(a.self.id, "audio")}
    assert b._media.track_of(a.self.id, "video") is None
    await until(lambda: b.participants.joined.get(a.self.id) is not None)
    assert not b.participants.joined[a.self.id].video_enabled

    # A client that ignores the refusal and sends video anyway: refused again, and its packets,
    # which do reach the SFU, are dropped there.
    dropped_before = sfu_metrics(stack)[DROPPED]
    again = await _publish_anyway(a, "video")
    assert again["video"].reason == "PERMISSION_DENIED_BY_PRESET"
    await metric_rises(stack, DROPPED, dropped_before + 20)
    media = await peer_media(stack, a.self.id)
    assert _kinds(media.blocked) == {"video"} and _kinds(media.published) == {"audio"}
    assert received_from(await peer_media(stack, b.self.id)) == {(a.self.id, "audio")}
    assert b._media.track_of(a.self.id, "video") is None


async def test_webinar_viewer_publishes_only_on_stage(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "webinar_presenter", "Presenter"))
    viewer = await joined(connect, await api.token(meeting_id, "webinar_viewer", "Viewer"))

    for enable in (viewer.self.enable_audio, viewer.self.enable_video):
        with pytest.raises(PermissionDenied) as refused:
            await enable()
        assert refused.value.reason == "STAGE_ACCESS_NOT_ALLOWED" and refused.value.code == "0104"
    assert not viewer.self.audio_enabled and not viewer.self.video_enabled

    # Granted and on stage: now it publishes, and the presenter decodes it.
    await viewer.stage.request_access()
    approved = viewer.stage.wait_for("stageRequestApproved")
    await host.stage.grant_access([viewer.self.user_id])
    await approved
    on_stage = viewer.stage.wait_for("stageStatusUpdate", lambda s: s == "ON_STAGE")
    await viewer.stage.join()
    await on_stage
    await viewer.self.enable_audio()
    await viewer.self.enable_video()
    video = await remote_track(host, viewer.self.id, "video")
    audio = await remote_track(host, viewer.self.id, "audio")
    await video.wait_for_frames(3)
    await audio.wait_for_frames(5)
    assert received_from(await peer_media(stack, host.self.id)) == {(viewer.self.id, "audio"),
                                                                    (viewer.self.id, "video")}

    # Leaving the stage stops forwarding, even from a client that keeps sending.
    async def keep_sending() -> None:
        return None

    viewer._media.stop_all = keep_sending
    dropped_before = sfu_metrics(stack)[DROPPED]
    off = viewer.stage.wait_for("stageStatusUpdate", lambda s: s == "OFF_STAGE")
    await viewer.stage.leave()
    await off
    await until(lambda: host._media.track_of(viewer.self.id, "video") is None
                and host._media.track_of(viewer.self.id, "audio") is None)
    assert video.readyState == "ended" and audio.readyState == "ended"
    assert viewer.self.video_track is not None  # the client still sends …
    await metric_rises(stack, DROPPED, dropped_before + 20)  # … and the SFU drops it
    media = await peer_media(stack, viewer.self.id)
    assert _kinds(media.blocked) == {"audio", "video"} and not media.published
    assert received_from(await peer_media(stack, host.self.id)) == set()


async def test_host_mute_stops_forwarding_and_tells_the_peer(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    a = await joined(connect, await api.token(meeting_id))
    await a.self.enable_audio()
    await a.self.enable_video()
    audio = await remote_track(host, a.self.id, "audio")
    video = await remote_track(host, a.self.id, "video")
    await audio.wait_for_frames(5)
    await video.wait_for_frames(3)
    await until(lambda: (p := host.participants.joined.get(a.self.id)) is not None and p.audio_enabled)
    remote = host.participants.joined[a.self.id]

    # `a` is told (and its SDK would stop sending); make it keep sending to see the SFU enforce.
    async def keep_sending(kind: str) -> None:
        return None

    a._media.stop_for_moderation = keep_sending
    dropped_before = sfu_metrics(stack)[DROPPED]
    told = a.self.wait_for("audioUpdate", lambda p: p["audio_enabled"] is False)
    moderated = a.self.wait_for("mediaModeration", lambda p: p["kind"] == "audio")
    seen = remote.wait_for("audioUpdate", lambda p: p["audio_enabled"] is False)
    await host.participants.disable_audio(a.self.id)
    await told
    moderation = await moderated
    assert moderation["actor_peer_id"] == host.self.id and moderation["allow_unmute"] is False
    await seen
    assert not a.self.audio_enabled and not remote.audio_enabled

    await until(lambda: host._media.track_of(a.self.id, "audio") is None)
    assert audio.readyState == "ended"
    await metric_rises(stack, DROPPED, dropped_before + 20)  # a's audio still arrives, is dropped
    assert received_from(await peer_media(stack, host.self.id)) == {(a.self.id, "video")}
    frames = video.frames_decoded
    await video.wait_for_frames(frames + 3)  # only audio was muted

    # Muted without allow_unmute: the SFU refuses the audio again (the orchestrator locked it).
    with pytest.raises(PermissionDenied) as refused:
        await a.self.enable_audio()
    assert refused.value.reason == "FORBIDDEN" and refused.value.details.get("kind") == "audio"
    assert _kinds((await peer_media(stack, a.self.id)).published) == {"video"}
    assert received_from(await peer_media(stack, host.self.id)) == {(a.self.id, "video")}


async def test_kicked_peer_is_cut_at_once(stack, api, connect) -> None:
    meeting_id = await api.meeting()
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    a = await joined(connect, await api.token(meeting_id))
    b = await joined(connect, await api.token(meeting_id))
    await asyncio.gather(a.self.enable_video(), b.self.enable_video())
    a_on_host = await remote_track(host, a.self.id, "video")
    a_on_b = await remote_track(b, a.self.id, "video")
    b_on_host = await remote_track(host, b.self.id, "video")
    await asyncio.gather(a_on_host.wait_for_frames(3), a_on_b.wait_for_frames(3), b_on_host.wait_for_frames(3))

    left = a.self.wait_for("roomLeft", lambda p: p["state"] == "kicked")
    await host.participants.kick(a.self.id)
    await left
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await until_removed(stack, a.self.id)
    assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    await until(lambda: host._media.track_of(a.self.id, "video") is None and b._media.track_of(a.self.id, "video") is None)
    assert a_on_host.readyState == "ended" and a_on_b.readyState == "ended"
    assert received_from(await peer_media(stack, host.self.id)) == {(b.self.id, "video")}
    assert received_from(await peer_media(stack, b.self.id)) == set()
    frames = b_on_host.frames_decoded
    await b_on_host.wait_for_frames(frames + 3)  # the others are unaffected
    assert sfu_metrics(stack)["rtk_sfu_frames_decoded_total"] == 0  # and the SFU never decoded


async def test_waitlisted_peer_gets_no_media_until_admitted(stack, api, connect) -> None:
    from aiortc import RTCPeerConnection
    from realtimekit import ClientError
    from realtimekit.wire import signal_pb2

    meeting_id = await api.meeting()
    waiting = await api.preset_variant("group_call_participant", {}, waiting_room_type="SKIP_ON_ACCEPT")
    host = await joined(connect, await api.token(meeting_id, "group_call_host", "Host"))
    guest = await connect(await api.token(meeting_id, waiting, "Guest"))
    waitlisted = guest.self.wait_for("waitlisted")
    await guest.join()
    await waitlisted

    # The SDK refuses locally; a client that offers anyway is refused by the server.
    with pytest.raises(ClientError):
        await guest.self.enable_audio()
    pc = RTCPeerConnection()
    try:
        pc.addTransceiver("audio", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        offer = signal_pb2.MediaOffer(sdp=pc.localDescription.sdp, new_connection=True,
                                      role=signal_pb2.MEDIA_CONNECTION_ROLE_PUBLISHER,
                                      tracks=[signal_pb2.MediaTrack(mid="0", kind=signal_pb2.TRACK_KIND_AUDIO)])
        for request in ({"media_offer": offer}, {"media_subscribe": signal_pb2.MediaSubscribe()}):
            with pytest.raises(ClientError) as refused:
                await guest._request(**request)
            assert refused.value.reason == "NOT_ADMITTED"
    finally:
        await pc.close()
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await peer_media(stack, guest.self.id)
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

    admitted = guest.self.wait_for("roomJoined")
    await host.participants.accept_waiting_room_request(guest.self.id)
    await admitted
    await guest.self.enable_audio()
    await (await remote_track(host, guest.self.id, "audio")).wait_for_frames(5)


async def until_removed(stack, peer_id: str) -> None:
    """Poll GetPeerMedia until the SFU no longer knows the peer (raises its NOT_FOUND)."""
    async with asyncio.timeout(15):
        while True:
            await peer_media(stack, peer_id)
            await asyncio.sleep(0.1)
