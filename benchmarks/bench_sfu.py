"""SFU forwarding benchmark (``make bench-sfu``).

N publishers x M subscribers of 640x480 VP8 (~1.5 Mbit/s, 30 fps) + Opus on loopback, every
subscriber receiving every publisher, plus one "probe" subscriber that decodes publisher 0 (fps,
resolution). The SFU runs alone in its own process (benchmarks/sfu/server.py); publishers and
subscribers run in a second process (benchmarks/sfu/loadgen.py) with pre-encoded sources and
header-only packet counting, so the SFU's CPU time (getrusage of its own process, user +
system) is isolated. Every scenario is run through
rtk_sfu.media (RTP forwarding) and the comparison scenario also through a stock aiortc relay
(MediaRelay: decode once per publisher, encode per subscriber).

    python benchmarks/bench_sfu.py                      # default scenarios
    python benchmarks/bench_sfu.py --scenario 4x8 --scenario 6x12 --compare 1x4 --duration 10
    python benchmarks/bench_sfu.py --profile /tmp/sfu.prof   # cProfile of the SFU, largest scenario
    python benchmarks/bench_sfu.py --no-relay --scenario 2x48 --trace   # where join→1st frame goes

join→1st frame is CPU-bound (ICE, DTLS, SDP of every subscriber in two Python processes): on a
shared machine a note is printed when other processes used CPU during the joins.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVER = HERE / "sfu" / "server.py"
LOADGEN = HERE / "sfu" / "loadgen.py"


def start_server(mode: str, uvloop: bool, trace: bool = False) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, str(SERVER), "--mode", mode]
    if uvloop:
        cmd.append("--uvloop")
    if trace:
        cmd.append("--trace")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    try:
        port = json.loads(line)["ready"]
    except (ValueError, KeyError) as exc:
        proc.kill()
        raise RuntimeError(f"benchmark server did not start: {line!r}") from exc
    return proc, port


def run_scenario(
    mode: str, pubs: int, subs: int, args: argparse.Namespace, cache: str, profile: str = ""
) -> dict[str, Any]:
    trace = args.trace and mode == "forward"
    proc, port = start_server(mode, args.uvloop, trace)
    try:
        cmd = [
            sys.executable,
            str(LOADGEN),
            "--port",
            str(port),
            "--publishers",
            str(pubs),
            "--subscribers",
            str(subs),
            "--duration",
            str(args.duration),
            "--warmup",
            str(args.warmup),
            "--cache",
            cache,
        ]
        if profile:
            cmd += ["--profile", profile]
        if trace:
            cmd.append("--trace")
        if args.serial_clients:
            cmd.append("--serial-clients")
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120 + args.duration * 3)
        if out.returncode != 0:
            raise RuntimeError(f"load generator failed:\n{out.stderr[-3000:]}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        res["mode"] = mode
        return res
    finally:
        proc.kill()
        proc.wait()


def parse_scenario(text: str) -> tuple[int, int]:
    p, s = text.lower().split("x")
    return int(p), int(s)


def fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_phases(r: dict[str, Any]) -> None:
    ph = r.get("join_phases")
    if not ph:
        return
    print(
        f"  {r['publishers']}x{r['subscribers']} join milestones, ms after the subscriber's join (p50 / p95 / max, n):"
    )
    for k, v in ph.items():
        if isinstance(v, list) and len(v) == 4:
            print(f"    {k:<32} {v[0]:>6} {v[1]:>6} {v[2]:>6}  ({v[3]})")
    print(f"    upstream PLIs, ms after the joins started: {ph.get('pli_sent_ms_after_joins')}")
    print(f"    keyframe requests (SFU): {ph.get('kf_requests')}", flush=True)


def foreign_note(r: dict[str, Any]) -> None:
    f = r.get("join_foreign_cpu")
    if f is not None and f > 0.25:
        print(
            f"  ({r['publishers']}x{r['subscribers']}: other processes used {f:.1f} cores while the subscribers "
            "joined; join latency is CPU-bound, so that join→1st frame is not representative)",
            flush=True,
        )


def row(r: dict[str, Any]) -> str:
    ff50 = fmt(r["first_frame_p50_s"] and r["first_frame_p50_s"] * 1000, ".0f")
    ff95 = fmt(r["first_frame_p95_s"] and r["first_frame_p95_s"] * 1000, ".0f")
    return (
        f"| {r['mode']:<8} | {r['publishers']}x{r['subscribers']:<3} | {r['forwarded_pps']:>9.0f} | "
        f"{100 * r['sfu_cpu_util']:>6.1f} % | {fmt(r['sfu_cpu_us_per_packet'], '6.1f')} | "
        f"{fmt(r['packets_per_core_s'], '8.0f')} | {fmt(r['loss'] and 100 * r['loss'], '5.2f')} % | "
        f"{ff50} / {ff95} | {fmt(r['decoder_fps'], '.1f')} | {r['first_frames']} | "
        f"{100 * r['loadgen_cpu_util']:.0f} % |"
    )


HEADER = (
    "| mode     | NxM   | fwd pkt/s | SFU CPU  | µs/pkt | pkt/s/core | loss    | join→1st frame p50/p95 ms "
    "| probe fps | first frames | loadgen CPU |\n"
    "|----------|-------|-----------|----------|--------|------------|---------|---------------------------"
    "|-----------|--------------|-------------|"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", help="NxM forwarded through rtk_sfu.media (repeatable)")
    ap.add_argument("--compare", default="1x4", help="NxM run through both rtk_sfu.media and the stock relay")
    ap.add_argument("--no-relay", action="store_true", help="skip the stock MediaRelay comparison")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--uvloop", action="store_true", help="run the SFU process on uvloop")
    ap.add_argument("--profile", default="", help="cProfile output of the SFU during the largest scenario")
    ap.add_argument("--json", default="", help="write all results to this file")
    ap.add_argument(
        "--trace", action="store_true", help="print where join→1st frame goes (milestones, ms after join)"
    )
    ap.add_argument(
        "--serial-clients",
        action="store_true",
        help="emulated clients answer their offers one at a time (default: interleaved in one event loop)",
    )
    args = ap.parse_args()
    scenarios = [parse_scenario(s) for s in (args.scenario or ["4x8", "2x24"])]
    compare = parse_scenario(args.compare)

    cache = os.path.join(tempfile.gettempdir(), "rtk-bench-sfu-sources-v2.pkl")
    t0 = time.monotonic()
    subprocess.run([sys.executable, str(LOADGEN), "--prepare", "--cache", cache], check=True)
    print(
        f"sources ready ({time.monotonic() - t0:.1f} s); load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    )

    results: list[dict[str, Any]] = []
    fwd_cmp = run_scenario("forward", *compare, args, cache)
    results.append(fwd_cmp)
    print(HEADER)
    print(row(fwd_cmp), flush=True)
    foreign_note(fwd_cmp)
    print_phases(fwd_cmp)
    relay_cmp = None
    if not args.no_relay:
        relay_cmp = run_scenario("relay", *compare, args, cache)
        results.append(relay_cmp)
        print(row(relay_cmp), flush=True)
    largest = max(scenarios, key=lambda s: s[0] * s[1])
    for pubs, subs in scenarios:
        if (pubs, subs) == compare:
            continue
        res = run_scenario(
            "forward", pubs, subs, args, cache, args.profile if (pubs, subs) == largest else ""
        )
        results.append(res)
        print(row(res), flush=True)
        foreign_note(res)
        print_phases(res)

    if relay_cmp and relay_cmp["sfu_cpu_us_per_packet"] and fwd_cmp["sfu_cpu_us_per_packet"]:
        ratio = relay_cmp["sfu_cpu_us_per_packet"] / fwd_cmp["sfu_cpu_us_per_packet"]
        print(
            f"\nstock relay (decode + re-encode) / rtk_sfu.media forwarding, CPU per delivered packet at "
            f"{compare[0]}x{compare[1]}: {ratio:.1f}x  (relay delivered {relay_cmp['forwarded_pps']:.0f} pkt/s at "
            f"{100 * relay_cmp['sfu_cpu_util']:.0f} % CPU, forwarding {fwd_cmp['forwarded_pps']:.0f} pkt/s at "
            f"{100 * fwd_cmp['sfu_cpu_util']:.1f} %)"
        )
    best = max((r for r in results if r["mode"] == "forward"), key=lambda r: r["forwarded_pps"])
    print(
        f"forwarding at {best['publishers']}x{best['subscribers']}: {best['sfu_cpu_us_per_packet']:.1f} µs SFU CPU per "
        f"forwarded packet = {best['packets_per_core_s']:.0f} packets/s per core "
        f"(user share {100 * best['sfu_user_share']:.0f} %)"
    )
    if args.profile:
        print(f"profile written to {args.profile} (python -m pstats {args.profile})")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
