"""Recording benchmark (``make bench-recording``): CPU per recorded stream.

Three processes per scenario, so that only the recorder's work is measured:

* the SFU media plane (benchmarks/sfu/server.py, forward mode);
* N publishers replaying pre-encoded 640x480 VP8 (30 fps, ~1 Mbit/s) + Opus (this file,
  ``--role publishers``; benchmarks/sfu/loadgen.py's sources);
* the recorder (this file, ``--role recorder``): one aiortc subscriber to all N publishers whose
  receivers are tapped exactly as in the recording service (media/tap.py: encoded frames, no
  decoding), feeding the service's own `Pipeline` in one of three modes:
  - ``receive``: taps only, frames dropped (the cost of receiving: ICE, SRTP, jitter buffer);
  - ``track``: per-track files, VP8/Opus muxed without transcoding (WebM);
  - ``composite``: the compositor process decodes every track, draws the grid, mixes audio and
    encodes 1280x720 H.264 (libx264 superfast, 15 fps) + AAC, as the service does by default.

CPU is user + system time over a measurement window after a warm-up: the recorder process
(getrusage) plus, in composite mode, the compositor process (psutil). "Per stream" divides by N,
a stream being one participant's audio + video.

    python benchmarks/bench_recording.py                        # N = 1 and 4, 10 s each
    python benchmarks/bench_recording.py --publishers 2 --duration 20 --mode composite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "sfu" / "server.py"
sys.path.insert(0, str(HERE))

MODES = ("receive", "track", "composite")


# -- publishers -----------------------------------------------------------------------------------
async def run_publishers(args: argparse.Namespace) -> None:
    from sfu.loadgen import preencode_opus, preencode_video, publisher
    from sfu.wire import loopback_ice

    loopback_ice()
    video = preencode_video(640, 480, 4.0, 1_000_000)
    audio = preencode_opus(4.0)
    peers = [await publisher(args.port, f"pub{i}", video, audio) for i in range(args.count)]
    print(json.dumps({"ready": [f"pub{i}" for i in range(args.count)]}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # until told to stop
    for peer in peers:
        await peer["pc"].close()


# -- recorder -------------------------------------------------------------------------------------
def _cpu_self() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _cpu_pid(pid: int | None) -> float:
    if pid is None:
        return 0.0
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


async def run_recorder(args: argparse.Namespace) -> dict[str, Any]:
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from rtk_recording.media.clock import RecordingClock
    from rtk_recording.media.composite import CompositeConfig
    from rtk_recording.media.tap import EncodedTap
    from rtk_recording.recorder.pipeline import Pipeline, RemoteTrack
    from sfu.loadgen import connect
    from sfu.wire import loopback_ice, recv, send

    loopback_ice()
    reader, writer = await connect(args.port)
    await send(writer, {"op": "join", "peer": "recorder"})
    await recv(reader)
    # One bundled transport, as the SDK's subscriber connection (the SFU sends everything on it).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    await send(writer, {"op": "subscribe", "publishers": args.publishers, "kinds": ["video", "audio"]})
    offer = await recv(reader)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
    await pc.setLocalDescription(await pc.createAnswer())
    await send(writer, {"op": "answer", "sdp": pc.localDescription.sdp})
    await recv(reader)

    # The server adds one transceiver per (publisher, kind), publishers in order: a publisher's
    # camera and microphone share its peer id, as in a real session (one tile per participant).
    kinds_per_publisher = 2
    tracks = [RemoteTrack(peer_id=publisher, user_id="", name=publisher, label=t.kind, receiver=t.receiver)
              for i, t in enumerate(pc.getTransceivers()) if t.receiver is not None
              for publisher in [args.publishers[i // kinds_per_publisher]]]
    workdir = Path(tempfile.mkdtemp(prefix="bench-recording-"))
    clock = RecordingClock()
    counts = {track.key: 0 for track in tracks}
    taps: list[EncodedTap] = []
    pipeline: Pipeline | None = None
    if args.mode == "receive":
        def sink_for(key: str):  # noqa: ANN202
            def sink(_frame: Any) -> None:
                counts[key] += 1
            return sink

        taps = [EncodedTap(t.receiver, sink_for(t.key)) for t in tracks]
    else:
        composite = None
        if args.mode == "composite":
            composite = CompositeConfig(directory=str(workdir), base_name="bench", video_codec="h264", width=1280,
                                        height=720, fps=15, x264_preset="superfast")
        pipeline = Pipeline(mode=args.mode, workdir=workdir, base_name="bench", clock=clock, composite=composite,
                            labels=("audio", "video"))
        for track in tracks:
            pipeline.add_track(track)
    clock.start()
    loop = asyncio.get_running_loop()

    async def run_for(seconds: float) -> None:
        end = loop.time() + seconds
        while loop.time() < end:
            if pipeline is not None:
                pipeline.tick()
            await asyncio.sleep(0.1)

    await run_for(args.warmup)
    child = pipeline.composite._process.pid if pipeline is not None and pipeline.composite is not None else None
    frames_before = pipeline.stats()["frames"] if pipeline is not None else sum(counts.values())
    cpu0, child0, t0 = _cpu_self(), _cpu_pid(child), time.monotonic()
    await run_for(args.duration)
    cpu1, child1, t1 = _cpu_self(), _cpu_pid(child), time.monotonic()
    frames_after = pipeline.stats()["frames"] if pipeline is not None else sum(counts.values())
    result: dict[str, Any] = {"mode": args.mode, "streams": len(args.publishers), "tracks": len(tracks),
                              "wall": t1 - t0, "cpu_recorder": cpu1 - cpu0, "cpu_compositor": child1 - child0,
                              "frames_per_s": (frames_after - frames_before) / (t1 - t0)}
    result["frames_by_track"] = dict(counts) if pipeline is None else {k: f.frames for k, f in pipeline.feeds.items()}
    if pipeline is not None:
        dropped = pipeline.stats()["dropped"]
        files = await pipeline.finish()
        result["files"] = [{"name": f.path.name, "bytes": f.size_bytes, "seconds": round(f.duration_seconds, 2)}
                           for f in files]
        result["dropped"] = dropped
    for tap in taps:
        tap.detach()
    await pc.close()
    writer.close()
    return result


# -- driver ---------------------------------------------------------------------------------------
def _start(cmd: list[str]) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        return proc, json.loads(line)
    except ValueError as exc:
        proc.kill()
        raise RuntimeError(f"{cmd[1]} did not start: {line!r}") from exc


def scenario(mode: str, count: int, args: argparse.Namespace) -> dict[str, Any]:
    server, ready = _start([sys.executable, str(SERVER), "--mode", "forward"])
    port = ready["ready"]
    publishers = None
    try:
        publishers, ready = _start([sys.executable, __file__, "--role", "publishers", "--port", str(port),
                                    "--count", str(count)])
        recorder = subprocess.run(
            [sys.executable, __file__, "--role", "recorder", "--port", str(port), "--mode", mode,
             "--duration", str(args.duration), "--warmup", str(args.warmup), "--publishers", *ready["ready"]],
            capture_output=True, text=True, timeout=args.duration + args.warmup + 120)
        if recorder.returncode != 0:
            raise RuntimeError(f"recorder failed:\n{recorder.stderr[-3000:]}")
        return json.loads(recorder.stdout.strip().splitlines()[-1])
    finally:
        if publishers is not None and publishers.stdin is not None:
            publishers.stdin.close()
            try:
                publishers.wait(10)
            except subprocess.TimeoutExpired:
                publishers.kill()
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=("driver", "publishers", "recorder"), default="driver")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--publishers", nargs="*", type=str, default=None,
                        help="driver: numbers of streams to record (default 1 4); recorder: publisher ids")
    parser.add_argument("--mode", action="append", choices=MODES, default=None)
    parser.add_argument("--duration", type=float, default=10.0, help="measurement window, seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds recorded before measuring")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if args.role == "publishers":
        asyncio.run(run_publishers(args))
        return
    if args.role == "recorder":
        args.mode = (args.mode or ["track"])[0]
        print(json.dumps(asyncio.run(run_recorder(args))), flush=True)
        return
    counts = [int(n) for n in (args.publishers or ["1", "4"])]
    modes = args.mode or list(MODES)
    print(f"recording benchmark: {os.cpu_count()} cores, {args.duration:.0f} s per scenario after "
          f"{args.warmup:.0f} s warm-up; stream = 640x480 VP8 30 fps ~1 Mbit/s + Opus 48 kbit/s")
    print(f"{'mode':<10} {'streams':>7} {'recorder CPU':>13} {'compositor CPU':>15} {'CPU/stream':>11} "
          f"{'frames/s':>9}  files")
    results = []
    for count in counts:
        for mode in modes:
            r = scenario(mode, count, args)
            results.append(r)
            total = (r["cpu_recorder"] + r["cpu_compositor"]) / r["wall"]
            files = ", ".join(f"{f['name'].split('_')[-2] if mode == 'track' else f['name']} "
                              f"{f['seconds']:.1f}s" for f in r.get("files", [])[:4])
            if len(r.get("files", [])) > 4:
                files += f", … ({len(r['files'])} files)"
            print(f"{mode:<10} {r['streams']:>7} {100 * r['cpu_recorder'] / r['wall']:>12.1f}% "
                  f"{100 * r['cpu_compositor'] / r['wall']:>14.1f}% {100 * total / r['streams']:>10.1f}% "
                  f"{r['frames_per_s']:>9.0f}  {files}", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
