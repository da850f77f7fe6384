"""Recordings through the real stack: REST exactly as RealtimeKit (and gRPC RecordingService),
the recording service's hidden recorder peer joining a session of SDK peers that publish
synthetic media, files checked with PyAV after downloading them through the signed gateway
link, `recording.statusUpdate` webhooks, record_on_start, session end, errors, and a crashed
recorder."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
import uuid

import asyncpg
import av
import grpc
import numpy as np
import psutil
import pytest
from moto import settings as moto_settings
from realtime.recording.v1 import recording_pb2, recording_service_pb2, recording_service_pb2_grpc
from recording_helpers import ColourVideoTrack, WebhookReceiver, close_to, dominant_rgb, frame_number, luma
from rtkit.clients import ACCOUNT_HEADER
from rtkit.errors import decode_rpc_error

pytestmark = pytest.mark.media

RED, BLUE, GREEN = (230, 30, 30), (30, 30, 230), (30, 220, 30)
SOURCE_FPS = 10


def _iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _webhook(rec, events=("recording.statusUpdate",)) -> tuple[WebhookReceiver, dict]:
    receiver = await WebhookReceiver().start()
    hook = await rec.ok("POST", "/webhooks", json={"name": "rec", "url": receiver.url, "events": list(events)})
    return receiver, hook


async def _emitted_statuses(stack, recording_id: str, until_last: str = "UPLOADED") -> list[str]:
    """The statuses of the recording's webhook deliveries in the order the events occurred, once
    the delivery of `until_last` is recorded (the webhook dispatcher consumes the recording's
    events asynchronously, so the REST status can be ahead of it by a moment)."""
    import orjson

    deadline = time.monotonic() + 20
    while True:
        conn = await asyncpg.connect(stack.dev.database_url)
        try:
            rows = await conn.fetch("SELECT body FROM meeting.webhook_deliveries"
                                    " WHERE event = 'recording.statusUpdate' ORDER BY event_time, create_time")
        finally:
            await conn.close()
        bodies = [orjson.loads(r["body"]) for r in rows]
        statuses = [b["recording"]["status"] for b in bodies if b["recording"]["id"] == recording_id]
        if until_last in statuses or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.1)


def _frames(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


async def test_composite_and_track_recordings_of_two_peers(rec, rec_stack, tmp_path):
    receiver, hook = await _webhook(rec)
    meeting_id = await rec.meeting()
    a = await rec.peer(meeting_id, "alice", RED, 440)
    seen_by_a: list[str] = []
    a.participants.joined.on("participantJoined", lambda p: seen_by_a.append(p.id))
    b = await rec.peer(meeting_id, "bob", BLUE, 660)
    g = await rec.peer(meeting_id, "gus")  # camera and microphone off: an avatar tile, no track file

    composite = await rec.ok("POST", "/recordings", json={
        "meeting_id": meeting_id, "file_name_prefix": "weekly",
        "video_config": {"codec": "H264", "width": 640, "height": 360}})
    assert composite["status"] == "INVOKED" and composite["meeting_id"] == meeting_id
    track = (await rec.ok("POST", "/recordings/track", json={
        "meeting_id": meeting_id, "allow_multiple_recordings": True,
        "layers": {"default": {"file_name_prefix": "tr", "media_kind": "audio"}, "cam": {"media_kind": "video"}}}
    ))["recording"]
    assert track["type"] == "TRACK" and track["status"] == "INVOKED"

    # Capacity (RTK_RECORDING_MAX_CONCURRENT=2 on the only recorder) and one-at-a-time rules.
    status, body = await rec.call("POST", "/recordings", json={"meeting_id": meeting_id,
                                                               "allow_multiple_recordings": True})
    assert status == 503 and body["success"] is False, body
    assert body["error"]["reason"] == "RECORDER_CAPACITY_EXHAUSTED", body
    status, body = await rec.call("POST", "/recordings", json={"meeting_id": meeting_id})
    assert status == 409 and body["error"]["reason"] == "RECORDING_ALREADY_RUNNING", body

    composite = await rec.until_status(composite["id"], "RECORDING")
    track = await rec.until_status(track["id"], "RECORDING")
    active = await rec.ok("GET", f"/recordings/active-recording/{meeting_id}")
    assert active["id"] in (composite["id"], track["id"]) and active["status"] == "RECORDING"
    listed = await rec.ok("GET", "/recordings", params={"meeting_id": meeting_id})
    assert {r["id"] for r in listed} == {composite["id"], track["id"]}
    assert all(r["meeting"]["id"] == meeting_id for r in listed)

    await asyncio.sleep(2.5)
    pause_sent = time.monotonic()
    paused = await rec.ok("PUT", f"/recordings/{composite['id']}", json={"action": "pause"})
    pause_done = time.monotonic()
    assert paused["status"] == "PAUSED"
    status, body = await rec.call("PUT", f"/recordings/{composite['id']}", json={"action": "bogus"})
    assert status == 400 and body["success"] is False
    await asyncio.sleep(1.5)  # not in the composite
    resume_sent = time.monotonic()
    resumed = await rec.ok("PUT", f"/recordings/{composite['id']}", json={"action": "resume"})
    resume_done = time.monotonic()
    assert resumed["status"] == "RECORDING"
    await asyncio.sleep(2.5)
    stopped = await asyncio.gather(*(rec.ok("PUT", f"/recordings/{r['id']}", json={"action": "stop"})
                                     for r in (composite, track)))
    assert all(s["status"] in ("UPLOADING", "UPLOADED") for s in stopped), stopped

    # The recorder peers were in the session the whole time, yet no peer ever saw them.
    assert set(a.participants.joined.keys()) == {b.self.id, g.self.id} and seen_by_a == [b.self.id, g.self.id]
    assert set(b.participants.joined.keys()) == {a.self.id, g.self.id}

    composite = await rec.until_status(composite["id"], "UPLOADED", "ERRORED")
    track = await rec.until_status(track["id"], "UPLOADED", "ERRORED")
    assert composite["status"] == "UPLOADED", composite
    assert track["status"] == "UPLOADED", track
    paused_for = ((resume_sent - pause_done) + (resume_done - pause_sent)) / 2
    expected = (_iso(composite["stopped_time"]) - _iso(composite["started_time"])).total_seconds() - paused_for

    # Composite: one H.264 + AAC MP4 with both cameras side by side above gus's avatar (a 2×2
    # grid of 320×180 cells), the paused interval cut out.
    assert composite["output_file_name"].startswith("weekly_") and composite["output_file_name"].endswith(".mp4")
    assert composite["recording_duration"] == pytest.approx(expected, abs=1.0)
    assert composite["download_url"].startswith(rec_stack.gateway_url + "/v1/recordings/")
    path = tmp_path / composite["output_file_name"]
    data = await rec.download(composite["download_url"], path)
    assert composite["file_size"] == len(data)
    with av.open(str(path)) as container:
        assert sorted(s.codec_context.name for s in container.streams) == ["aac", "h264"]
        assert container.duration / 1e6 == pytest.approx(expected, abs=0.5)
    frames = _frames(path)

    def both_peers(frame: np.ndarray) -> bool:
        tiles = (dominant_rgb(frame, 160, 90), dominant_rgb(frame, 480, 90))
        return any(close_to(tiles[0], x) and close_to(tiles[1], y) for x, y in ((RED, BLUE), (BLUE, RED)))

    assert any(both_peers(f) for f in frames[: len(frames) // 2])  # before the pause
    assert all(both_peers(f) for f in frames[-8:-2])  # after the resume, to the end
    for frame in frames[-8:-2]:
        assert close_to(dominant_rgb(frame, 30, 200), (38, 38, 42), 15)  # gus: a dark grey avatar tile
        avatar = luma(frame[200:340, 100:220].astype(np.float32))
        assert np.count_nonzero(avatar > 200) >= 50  # with the initials large in the centre
        assert float(np.max(luma(frame[200:340, 340:620].astype(np.float32)))) < 40  # the empty cell

    # Track recording: four files muxed without transcoding, in sync with their sources.
    recorded = (_iso(track["stopped_time"]) - _iso(track["started_time"])).total_seconds()
    files = {(f["user_id"] and f["display_name"], f["stream_kind"]): f for f in track["files"]}
    assert sorted(files) == [("alice", "audio"), ("alice", "video"), ("bob", "audio"), ("bob", "video")], track
    assert track["file_size"] == sum(f["size"] for f in track["files"])
    for (name, kind), f in files.items():
        path = tmp_path / f["name"]
        await rec.download(f["download_url"], path)
        with av.open(str(path)) as container:
            stream = container.streams[0]
            assert stream.codec_context.name == ("opus" if kind == "audio" else "vp8")
            duration = container.duration / 1e6
            assert duration == pytest.approx(f["duration"], abs=0.5)
            assert duration <= recorded + 0.5
            if kind == "audio":  # the timestamps match the audio in the file: no invented or lost time
                samples = sum(frame.samples for frame in container.decode(audio=0))
                assert samples / 48000 == pytest.approx(duration, abs=0.5)
        if kind == "video":
            assert f["name"].startswith("tr_") and f["name"].endswith(".webm")
            decoded = _frames(path)
            colour = RED if name == "alice" else BLUE
            assert close_to(dominant_rgb(decoded[len(decoded) // 2], 160, 120), colour)
            numbers = [frame_number(x) for x in decoded]
            assert numbers == sorted(numbers), numbers  # no frame out of order
            source_seconds = (numbers[-1] - numbers[0]) / SOURCE_FPS
            assert duration == pytest.approx(source_seconds, abs=0.5)
            audio = files[(name, "audio")]
            assert audio["duration"] >= duration - 0.5  # video starts at a key frame, audio at once

    # Webhooks: one per status change, in the order of the changes, the last one with the outputs.
    assert await _emitted_statuses(rec_stack, composite["id"]) == [
        "INVOKED", "RECORDING", "PAUSED", "RECORDING", "UPLOADING", "UPLOADED"]
    assert await _emitted_statuses(rec_stack, track["id"]) == ["INVOKED", "RECORDING", "UPLOADING", "UPLOADED"]
    deadline = time.monotonic() + 20
    while len(receiver.statuses(composite["id"])) < 6 or len(receiver.statuses(track["id"])) < 4:
        assert time.monotonic() < deadline, [h.body for h in receiver.hits]
        await asyncio.sleep(0.1)
    assert sorted(receiver.statuses(composite["id"])) == sorted(
        ["INVOKED", "RECORDING", "PAUSED", "RECORDING", "UPLOADING", "UPLOADED"])
    uploaded = receiver.last(composite["id"], "UPLOADED")
    assert uploaded["recording"]["downloadUrl"] == composite["download_url"]
    assert uploaded["recording"]["fileSize"] == str(composite["file_size"])
    assert uploaded["recording"]["recordingDuration"] == composite["recording_duration"]
    assert uploaded["meeting"]["id"] == meeting_id
    await rec.ok("DELETE", f"/webhooks/{hook['id']}")
    await receiver.stop()

    # A tampered or expired link is refused.
    url = composite["download_url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    async with rec.http.__class__(timeout=10) as anonymous:
        assert (await anonymous.get(tampered)).status_code == 403
        expired = url.replace(f"exp={url.split('exp=')[1].split('&')[0]}", "exp=1000")
        assert (await anonymous.get(expired)).status_code == 403


async def test_bad_requests_get_clear_errors(rec, rec_stack):
    unknown = str(uuid.uuid4())
    status, body = await rec.call("POST", "/recordings", json={"meeting_id": unknown})
    assert status == 404 and body["error"]["reason"] == "MEETING_NOT_FOUND", body
    idle = await rec.meeting()
    status, body = await rec.call("POST", "/recordings", json={"meeting_id": idle})
    assert status == 404 and body["error"]["reason"] == "NO_ACTIVE_SESSION", body
    status, body = await rec.call("POST", "/recordings/track", json={"meeting_id": idle})
    assert status == 404 and body["error"]["reason"] == "NO_ACTIVE_SESSION", body
    status, body = await rec.call("POST", "/recordings", json={"meeting_id": idle, "max_seconds": 5})
    assert status == 400, body
    status, body = await rec.call("POST", "/recordings", json={"meeting_id": idle, "allow_multiple_recordings": "yes"})
    assert status == 400 and body["error"]["reason"] == "INVALID_FIELD", body
    status, body = await rec.call("GET", f"/recordings/{unknown}")
    assert status == 404 and body["error"]["reason"] == "RECORDING_NOT_FOUND", body
    status, body = await rec.call("PUT", f"/recordings/{unknown}", json={"action": "stop"})
    assert status == 404 and body["error"]["reason"] == "RECORDING_NOT_FOUND", body
    status, body = await rec.call("GET", f"/recordings/active-recording/{idle}")
    assert status == 404 and body["error"]["reason"] == "NO_ACTIVE_RECORDING", body

    # The same over gRPC: google.rpc.Status with one ErrorInfo.
    metadata = (("authorization", f"Bearer {rec_stack.api_token}"), (ACCOUNT_HEADER, rec_stack.account_id))
    async with grpc.aio.insecure_channel(rec_stack.grpc["recording"]) as channel:
        stub = recording_service_pb2_grpc.RecordingServiceStub(channel)
        for request, reason in (
            (recording_service_pb2.StartRecordingRequest(app_id=rec_stack.app_id, meeting_id=unknown),
             "MEETING_NOT_FOUND"),
            (recording_service_pb2.StartRecordingRequest(app_id=rec_stack.app_id, meeting_id=idle),
             "NO_ACTIVE_SESSION"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await stub.StartRecording(request, metadata=metadata)
            decoded = decode_rpc_error(err.value)
            assert decoded.code == grpc.StatusCode.NOT_FOUND and decoded.reason == reason
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ControlRecording(recording_service_pb2.ControlRecordingRequest(
                app_id=rec_stack.app_id, recording_id=unknown, action=recording_service_pb2.RECORDING_ACTION_PAUSE),
                metadata=metadata)
        assert decode_rpc_error(err.value).reason == "RECORDING_NOT_FOUND"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListRecordings(recording_service_pb2.ListRecordingsRequest(app_id=rec_stack.app_id),
                                      metadata=(("authorization", "Bearer nope"),))
        assert decode_rpc_error(err.value).code == grpc.StatusCode.UNAUTHENTICATED


async def test_record_on_start_over_grpc_and_session_end_stops_it(rec, rec_stack, tmp_path):
    meeting_id = await rec.meeting(record_on_start=True, recording_config={
        "video_config": {"codec": "VP8", "width": 320, "height": 240}})
    a = await rec.peer(meeting_id, "carol", RED, 440)
    metadata = (("authorization", f"Bearer {rec_stack.api_token}"), (ACCOUNT_HEADER, rec_stack.account_id))
    async with grpc.aio.insecure_channel(rec_stack.grpc["recording"]) as channel:
        stub = recording_service_pb2_grpc.RecordingServiceStub(channel)
        deadline = time.monotonic() + 30
        while True:  # started by the session_started event, not by a call
            try:
                active = (await stub.GetActiveRecording(recording_service_pb2.GetActiveRecordingRequest(
                    app_id=rec_stack.app_id, meeting_id=meeting_id), metadata=metadata)).recording
            except grpc.aio.AioRpcError as exc:
                assert decode_rpc_error(exc).reason == "NO_ACTIVE_RECORDING"
                active = None
            if active is not None and active.status == recording_pb2.RECORDING_STATUS_RECORDING:
                break
            assert time.monotonic() < deadline, active
            await asyncio.sleep(0.2)
        assert active.start_reason.reason == recording_pb2.START_REASON_TYPE_RECORD_ON_START
        assert active.type == recording_pb2.RECORDING_TYPE_COMPOSITE
        # A second one needs allow_multiple_recordings (gRPC: FAILED_PRECONDITION with ErrorInfo).
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.StartRecording(recording_service_pb2.StartRecordingRequest(
                app_id=rec_stack.app_id, meeting_id=meeting_id), metadata=metadata)
        decoded = decode_rpc_error(err.value)
        assert (decoded.code, decoded.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "RECORDING_ALREADY_RUNNING")
        await asyncio.sleep(2.5)
        # The participant renegotiates (stops its camera, publishes another one): still recorded.
        await a.self.disable_video()
        await asyncio.sleep(0.5)
        await a.self.enable_video(ColourVideoTrack(BLUE, fps=SOURCE_FPS))
        # Someone joins (a second tile) and leaves again (back to one). Carol receiving erin's
        # video tells that the SFU forwards it (to the recorder too).
        e = await rec.peer(meeting_id, "erin", GREEN, None)
        deadline = time.monotonic() + 20
        while (erin := a.participants.joined.get(e.self.id)) is None or erin.video_track is None:
            assert time.monotonic() < deadline, "carol never received erin's video"
            await asyncio.sleep(0.05)
        await erin.video_track.wait_for_frames(3, timeout=20)
        await asyncio.sleep(3.0)  # the recorder subscribes on its own: leave it time to show erin's tile
        await e.leave()
        await asyncio.sleep(2.0)
        # Ending the session (kick-all) stops the recording; the file is complete.
        await rec.ok("POST", f"/meetings/{meeting_id}/active-session/kick-all")
        deadline = time.monotonic() + 60
        while True:
            got = (await stub.GetRecording(recording_service_pb2.GetRecordingRequest(
                app_id=rec_stack.app_id, recording_id=active.id), metadata=metadata)).recording
            if got.status in (recording_pb2.RECORDING_STATUS_UPLOADED, recording_pb2.RECORDING_STATUS_ERRORED):
                break
            assert time.monotonic() < deadline, got
            await asyncio.sleep(0.2)
    assert got.status == recording_pb2.RECORDING_STATUS_UPLOADED, got.error_message
    assert got.output_file_name.endswith(".webm")  # the meeting's recording_config applies
    assert got.stop_reason.reason == recording_pb2.STOP_REASON_TYPE_ALL_PEERS_LEFT
    assert a.self.room_state == "ended"
    path = tmp_path / got.output_file_name
    await rec.download(got.download_url, path)
    with av.open(str(path)) as container:
        assert container.duration / 1e6 == pytest.approx(got.files[0].duration_seconds, abs=0.5)
        assert container.duration / 1e6 >= 3.0
    frames = _frames(path)
    width, height = frames[0].shape[1], frames[0].shape[0]

    def is_(rgb, colour) -> bool:
        return close_to(rgb, colour)

    centre = [dominant_rgb(f, width // 2, height // 2) for f in frames]  # one tile: the whole frame
    pairs = [(dominant_rgb(f, width // 4, height // 2), dominant_rgb(f, width * 3 // 4, height // 2)) for f in frames]
    red = [i for i, c in enumerate(centre) if is_(c, RED)]
    later = [i for i, (c, (left, right)) in enumerate(zip(centre, pairs, strict=True))
             if any(is_(x, BLUE) or is_(x, GREEN) for x in (c, left, right))]
    assert red and later and max(red) < min(later), centre  # the first camera, then the others
    together = [i for i, (left, right) in enumerate(pairs)
                if (is_(left, BLUE) and is_(right, GREEN)) or (is_(left, GREEN) and is_(right, BLUE))]
    assert len(together) >= 5, pairs  # carol's second camera and erin's, side by side
    assert all(is_(c, BLUE) for c in centre[-5:-1]), centre  # erin's tile went away, carol's stayed


async def test_screenshare_is_recorded_and_an_alone_recorder_stops_by_itself(rec, rec_stack, tmp_path):
    """A peer shares its screen 1.5 s into the recordings and then leaves: the screenshare is a
    track file of its own (VP8 .webm at the shared size) whose `start_offset` places it on the
    recording timeline, the composite gives it the main area, and with nobody left but the
    recorders both recordings stop by themselves (ALL_PEERS_LEFT) and are uploaded."""
    meeting_id = await rec.meeting()
    frank = await rec.peer(meeting_id, "frank", None, 440)
    camera = ColourVideoTrack(RED, fps=SOURCE_FPS)
    await frank.self.enable_video(camera)
    composite = await rec.ok("POST", "/recordings", json={
        "meeting_id": meeting_id, "video_config": {"codec": "H264", "width": 640, "height": 360}})
    track = (await rec.ok("POST", "/recordings/track", json={
        "meeting_id": meeting_id, "allow_multiple_recordings": True,
        "layers": {"default": {"file_name_prefix": "ss", "media_kind": "audio"}, "cam": {"media_kind": "video"}}}
    ))["recording"]
    await rec.until_status(composite["id"], "RECORDING")
    await rec.until_status(track["id"], "RECORDING")
    await asyncio.sleep(1.5)
    screen = ColourVideoTrack(GREEN, width=640, height=360, fps=SOURCE_FPS)
    await frank.self.enable_screen_share(screen)
    await asyncio.sleep(3.0)
    await frank.leave()  # nobody left but the (hidden) recorders: no stop call from here on

    composite, track = await asyncio.gather(*(rec.until_status(r["id"], "UPLOADED", "ERRORED")
                                              for r in (composite, track)))
    for done in (composite, track):
        assert done["status"] == "UPLOADED", done
        assert done["stop_reason"]["reason"] == "ALL_PEERS_LEFT", done

    # Track recording: the camera and the screenshare, each in its own file, each placed on the
    # recording timeline where its first frame was captured (frame numbers drawn by the sources).
    started = _iso(track["started_time"]).timestamp()
    files = {f["stream_kind"]: f for f in track["files"]}
    assert sorted(files) == ["audio", "screenshare", "video"], track["files"]
    for kind, source, marker in (("video", camera, "_webcam_video_"), ("screenshare", screen, "_screenshare_video_")):
        f = files[kind]
        assert f["name"].startswith("ss_") and marker in f["name"] and f["name"].endswith(".webm"), f
        assert f["content_type"] == "video/webm" and f["display_name"] == "frank"
        path = tmp_path / f["name"]
        await rec.download(f["download_url"], path)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "vp8"
            assert (stream.codec_context.width, stream.codec_context.height) == (source.width, source.height)
        decoded = _frames(path)
        assert decoded[0].shape[:2] == (source.height, source.width)
        assert close_to(dominant_rgb(decoded[len(decoded) // 2], source.width // 2, source.height // 2), source.rgb)
        first_captured = source.started_wall + frame_number(decoded[0]) / SOURCE_FPS
        assert f["start_offset"] == pytest.approx(first_captured - started, abs=0.5), (kind, f)
    assert files["screenshare"]["start_offset"] >= 1.5 - 0.5  # shared 1.5 s after RECORDING was seen

    # Composite: first the camera alone (the whole frame), then the screenshare in the main area
    # (the left three quarters) and the camera in the column on the right.
    path = tmp_path / composite["output_file_name"]
    await rec.download(composite["download_url"], path)
    frames = _frames(path)
    assert frames[0].shape[:2] == (360, 640)
    camera_only = [i for i, f in enumerate(frames) if close_to(dominant_rgb(f, 320, 180), RED)]
    shared = [i for i, f in enumerate(frames)
              if all(close_to(dominant_rgb(f, x, 180), GREEN) for x in (60, 240, 420))
              and close_to(dominant_rgb(f, 560, 180), RED)]
    assert camera_only and shared and max(camera_only) < min(shared), (camera_only, shared)
    assert min(shared) - max(camera_only) <= 2, (camera_only, shared)  # no blank main area while it connects
    assert len(shared) >= 15, shared  # ~3 s at 10 fps


async def test_a_crashed_recorder_errors_its_recordings(rec, rec_stack, s3_server, monkeypatch):
    meeting_id = await rec.meeting()
    await rec.peer(meeting_id, "dave", RED, None)
    started = await rec.ok("POST", "/recordings", json={"meeting_id": meeting_id,
                                                        "video_config": {"codec": "VP8", "width": 320, "height": 240}})
    await rec.until_status(started["id"], "RECORDING")
    process = rec_stack.dev.services["recording"].process
    helpers = psutil.Process(process.pid).children(recursive=True)  # the compositor (and its tracker)
    assert helpers
    os.kill(process.pid, signal.SIGKILL)  # no drain, no goodbye: only the missing heartbeats tell
    process.wait()
    _, alive = await asyncio.to_thread(psutil.wait_procs, helpers, 15)
    assert not alive, f"the killed recorder's compositor outlived it: {alive}"
    # It comes back configured for S3-compatible storage (this module's last test: the stack keeps it).
    rec_stack.dev.services["recording"].env.update({
        "RTK_RECORDING_STORAGE": "s3", "RTK_RECORDING_S3_ENDPOINT": s3_server.endpoint,
        "RTK_RECORDING_S3_BUCKET": s3_server.bucket, "RTK_RECORDING_S3_REGION": s3_server.region,
        "RTK_RECORDING_S3_ACCESS_KEY": s3_server.access_key, "RTK_RECORDING_S3_SECRET_KEY": s3_server.secret_key,
        "RTK_RECORDING_S3_PREFIX": "builtin"})
    rec_stack.dev.restart_service("recording")
    errored = await rec.until_status(started["id"], "ERRORED", "UPLOADED", within=30)
    assert errored["status"] == "ERRORED"
    assert "recorder stopped reporting" in errored["error"]
    assert errored["stop_reason"]["reason"] == "INTERNAL_ERROR"
    # The restarted recorder takes new work, stores it in S3 and also in the customer's bucket.
    again = await rec.ok("POST", "/recordings", json={
        "meeting_id": meeting_id, "video_config": {"codec": "VP8", "width": 320, "height": 240},
        "storage_config": {"type": "aws", "bucket": s3_server.bucket, "region": s3_server.region,
                           "access_key": s3_server.access_key, "secret": s3_server.secret_key,
                           "host": s3_server.endpoint, "path": "customer"}})
    assert "secret" not in again["storage_config"] and "access_key" not in again["storage_config"]
    await rec.until_status(again["id"], "RECORDING")
    await asyncio.sleep(1.0)
    await rec.ok("PUT", f"/recordings/{again['id']}", json={"action": "stop"})
    done = await rec.until_status(again["id"], "UPLOADED", "ERRORED")
    assert done["status"] == "UPLOADED", done
    expected_objects = {f["name"]: f["size"] for f in done["files"]}
    for prefix in (f"customer/{again['id']}/", f"builtin/{rec_stack.app_id}/{again['id']}/"):
        listed = s3_server.client().list_objects_v2(Bucket=s3_server.bucket, Prefix=prefix)
        assert {o["Key"].rsplit("/", 1)[1]: o["Size"] for o in listed.get("Contents", [])} == expected_objects
    # The signed gateway link redirects to a presigned S3 URL of the built-in bucket.
    async with rec.http.__class__(timeout=10) as anonymous:
        response = await anonymous.get(done["download_url"])
        assert response.status_code == 307, response.text
        location = response.headers["location"]
        assert location.startswith(f"{s3_server.endpoint}/{s3_server.bucket}/builtin/") and "X-Amz-Signature" in location
        # moto cannot check presigned requests with authentication on (tests/recording/test_s3_storage.py)
        monkeypatch.setattr(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", float("inf"))
        fetched = await anonymous.get(location)
        assert fetched.status_code == 200 and len(fetched.content) == done["file_size"]
    # End the session: the SIGKILLed recorder's peer goes with it (no stale peer left on the SFU).
    await rec.ok("POST", f"/meetings/{meeting_id}/active-session/kick-all")
