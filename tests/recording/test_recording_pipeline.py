"""The recorder's media pipeline on real WebRTC: two aiortc publishers → in-process SFU →
recorder client whose receivers are tapped (encoded frames, no decoding) → files checked with
PyAV: tracks, codecs, durations (±0.5 s), colours in the composite grid, pause/resume."""

from __future__ import annotations

import asyncio

import av
import numpy as np
import pytest
from recording_helpers import (
    ColourVideoTrack,
    MiniSfu,
    ToneTrack,
    close_to,
    dominant_rgb,
    frame_number,
    wait_until,
)
from rtk_recording.media.clock import RecordingClock
from rtk_recording.media.composite import CompositeConfig
from rtk_recording.recorder.pipeline import Pipeline, RemoteTrack

RED, BLUE = (230, 30, 30), (30, 30, 230)


def _block_x(frame: np.ndarray) -> int:
    row = frame[68, :320, 1]  # green: ~128 on the grey block, ~30 on red
    cols = np.nonzero(row > 90)[0]
    return int(cols.mean()) if len(cols) else -1


async def _session(sfu: MiniSfu) -> list[RemoteTrack]:
    a, b = await sfu.join("peer-a"), await sfu.join("peer-b")
    await sfu.join("recorder")
    await a.publish(("audio", ToneTrack(440)), ("video", ColourVideoTrack(RED)))
    await b.publish(("audio", ToneTrack(660)), ("video", ColourVideoTrack(BLUE)))
    assert await wait_until(lambda: len(sfu.router.producers()) == 4, 10)
    await sfu.subscribe("recorder", "peer-a")
    await sfu.subscribe("recorder", "peer-b")
    assert await wait_until(lambda: len(sfu.received("recorder")) == 4, 10)
    return [RemoteTrack(peer_id=p, user_id=f"user-{p}", name=p, label=label, receiver=r)
            for p, label, r in sfu.received("recorder")]


async def _run(pipeline: Pipeline, seconds: float) -> None:
    end = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < end:
        pipeline.tick()
        await asyncio.sleep(0.1)


async def test_track_recording_writes_one_file_per_track_without_transcoding(sfu, tmp_path):
    tracks = await _session(sfu)
    clock = RecordingClock()
    pipeline = Pipeline(mode="track", workdir=tmp_path, base_name="tr", clock=clock,
                        labels=("audio", "video", "screenshare", "screenshare_audio"))
    for track in tracks:
        assert pipeline.add_track(track)
    clock.start()
    await _run(pipeline, 3.0)
    files = await pipeline.finish()
    assert sorted((f.peer_id, f.track_kind, f.codec) for f in files) == [
        ("peer-a", "audio", "opus"), ("peer-a", "video", "vp8"), ("peer-b", "audio", "opus"), ("peer-b", "video", "vp8")]
    for f in files:
        assert f.path.name.startswith(f"tr_user-{f.peer_id}_{f.peer_id}_webcam_")
        with av.open(str(f.path)) as container:
            stream = container.streams[0]
            assert stream.codec_context.name == f.codec
            assert container.duration / 1e6 == pytest.approx(3.0, abs=0.5)
            if f.track_kind == "video":
                frames = [fr.to_ndarray(format="rgb24") for fr in container.decode(video=0)]
                assert len(frames) >= 30
                assert close_to(dominant_rgb(frames[len(frames) // 2], 160, 160), RED if f.peer_id == "peer-a" else BLUE)
            else:
                samples = sum(fr.samples for fr in container.decode(audio=0))
                assert samples / 48000 == pytest.approx(3.0, abs=0.5)


async def test_composite_grid_mixed_audio_and_pause_leaves_no_gap(sfu, tmp_path):
    tracks = await _session(sfu)
    clock = RecordingClock()
    config = CompositeConfig(directory=str(tmp_path), base_name="comp", video_codec="vp8", width=640, height=360,
                             fps=15)  # the default latency (0.6 s) for late audio
    pipeline = Pipeline(mode="composite", workdir=tmp_path, base_name="comp", clock=clock, composite=config)
    for track in sorted(tracks, key=lambda t: t.peer_id):
        pipeline.add_track(track)
    clock.start()
    await _run(pipeline, 2.0)
    clock.pause()
    await asyncio.sleep(1.5)  # nothing of this interval may appear in the file
    clock.resume()
    pipeline.on_resume()
    await _run(pipeline, 2.0)
    files = await pipeline.finish()
    assert [f.kind for f in files] == ["composite", "audio"]
    main, audio = files
    assert main.path.suffix == ".webm" and audio.path.suffix == ".ogg"
    with av.open(str(main.path)) as container:
        assert [s.codec_context.name for s in container.streams] == ["vp8", "opus"]
        assert container.duration / 1e6 == pytest.approx(4.0, abs=0.5)
        frames = [fr.to_ndarray(format="rgb24") for fr in container.decode(video=0)]
    # Grid of two: peer-a left, peer-b right, in the middle of the recording.
    mid = frames[len(frames) // 2]
    assert close_to(dominant_rgb(mid, 160, 200), RED) and close_to(dominant_rgb(mid, 480, 200), BLUE)
    # No frozen stretch: peer-a's moving grey block (source rows 0-16 → grid rows 60-76) moves
    # at least every 0.6 s, the resume included.
    positions = [_block_x(f) for f in frames]
    run = longest = 0
    for prev, cur in zip(positions[15:], positions[16:], strict=False):
        run = run + 1 if prev == cur else 0
        longest = max(longest, run)
    assert longest < 9, f"frozen for {longest} frames: {positions}"
    with av.open(str(audio.path)) as container:
        pcm = np.concatenate([fr.to_ndarray().reshape(-1) for fr in container.decode(audio=0)])
    seconds = len(pcm) / 48000 / 2
    assert seconds == pytest.approx(4.0, abs=0.5)
    window = 9600  # 100 ms of stereo
    rms = [float(np.sqrt(np.mean(pcm[i:i + window] ** 2))) for i in range(window * 6, len(pcm) - window * 4, window)]
    silent = [i for i, v in enumerate(rms) if v < 0.02]
    assert len(silent) <= 2, f"silent 100 ms windows {silent} of {len(rms)}"


async def test_a_track_that_stops_and_comes_back_keeps_its_file_with_a_true_gap(sfu, tmp_path):
    tracks = await _session(sfu)
    video = next(t for t in tracks if t.peer_id == "peer-a" and t.label == "video")
    clock = RecordingClock()
    pipeline = Pipeline(mode="track", workdir=tmp_path, base_name="gap", clock=clock, labels=("video",))
    assert pipeline.add_track(video)
    clock.start()
    await _run(pipeline, 1.5)
    pipeline.remove_track(video.key)  # the publisher stopped its camera (renegotiation)
    await asyncio.sleep(1.0)
    assert pipeline.add_track(video)  # … and it is back
    await _run(pipeline, 1.5)
    files = await pipeline.finish()
    assert len(files) == 1 and files[0].peer_id == "peer-a"  # one file, not a second one overwriting it
    with av.open(str(files[0].path)) as container:
        decoded = [(float(f.pts * f.time_base), frame_number(f.to_ndarray(format="rgb24")))
                   for f in container.decode(video=0)]
        assert container.duration / 1e6 == pytest.approx(4.0, abs=0.5)
    # Every step between frames, the gap included, is as long in the file as at the source (15 fps).
    steps = [(t1 - t0, (n1 - n0) / 15) for (t0, n0), (t1, n1) in zip(decoded, decoded[1:], strict=False)]
    gap = max(steps)
    assert gap[1] >= 0.8, steps  # the ~1 s without the track is in the file …
    assert all(abs(in_file - at_source) < 0.25 for in_file, at_source in steps), steps  # … at its true length
