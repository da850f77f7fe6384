"""make bench-api: add-participant through REST → gRPC → Postgres → RS256 token.

Starts the real stack (embedded Postgres/NATS unless RTK_DATABASE_URL / RTK_NATS_URL are set),
creates one meeting, then drives `POST …/meetings/{id}/participants` at a fixed concurrency from a
separate load process. Prints throughput, latency percentiles, CPU seconds per request for each
service process (where the time goes), and `openssl speed rsa2048` signs/s as the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_PER_SECOND = 2000
GOAL_P99_MS = 50.0


def _load_worker(url: str, token: str, concurrency: int, warmup: float, duration: float, queue: mp.Queue) -> None:
    import aiohttp

    async def run() -> dict[str, object]:
        latencies: list[float] = []
        errors: dict[int, int] = {}
        counter = 0
        connector = aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + duration
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def worker(wid: int) -> None:
                nonlocal counter
                while True:
                    now = time.perf_counter()
                    if now >= stop_at:
                        return
                    counter += 1
                    body = json.dumps(
                        {"name": f"user {wid}-{counter}", "preset_name": "group_call_participant",
                         "custom_participant_id": f"bench-{wid}-{counter}"}
                    )
                    t0 = time.perf_counter()
                    async with session.post(url, data=body) as response:
                        await response.read()
                        status = response.status
                    t1 = time.perf_counter()
                    if t0 >= measure_from:
                        if status == 201:
                            latencies.append(t1 - t0)
                        else:
                            errors[status] = errors.get(status, 0) + 1

            cpu0 = time.process_time()
            await asyncio.gather(*(worker(i) for i in range(concurrency)))
            cpu = time.process_time() - cpu0
        return {"latencies": latencies, "errors": errors, "load_cpu": cpu}

    queue.put(asyncio.run(run()))


def _openssl_signs_per_second() -> float | None:
    if not shutil.which("openssl"):
        return None
    out = subprocess.run(["openssl", "speed", "-seconds", "3", "rsa2048"], capture_output=True, text=True).stdout
    match = re.search(r"rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", out)
    return float(match.group(1)) if match else None


def _mean_batch_sizes(httpx, url: str) -> dict[str, float]:
    """Mean items per flush of each rtkit.batching.GroupCommit, from the service's /metrics."""
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return {}
    for line in text.splitlines():
        for suffix, into in (("_sum", sums), ("_count", counts)):
            prefix = f"rtk_group_commit_batch_size{suffix}{{name=\""
            if line.startswith(prefix):
                name = line[len(prefix):].split('"', 1)[0]
                into[name] = float(line.rsplit(" ", 1)[1])
    return {name: sums[name] / counts[name] for name in sums if counts.get(name)}


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--json", type=Path, default=Path(".bench/api.json"))
    args = parser.parse_args()

    import httpx
    import psutil
    from rtk_cli.devstack import DevStack

    data_dir = Path(tempfile.mkdtemp(prefix="rtk-bench-api-"))
    stack = DevStack(data_dir, free_ports=True, log_to_files=True, extra_env={"RTK_LOG_LEVEL": "warning"})
    print(f"starting the stack in {data_dir} …", flush=True)
    creds = stack.start()
    try:
        base = f"{creds['gateway_url']}/client/v4/accounts/{creds['account_id']}/realtime/kit/{creds['app_id']}"
        headers = {"Authorization": f"Bearer {creds['api_token']}"}
        meeting = httpx.post(f"{base}/meetings", json={"title": "bench"}, headers=headers, timeout=30).json()["data"]
        url = f"{base}/meetings/{meeting['id']}/participants"
        processes = {
            name: psutil.Process(svc.process.pid) for name, svc in stack.services.items() if svc.process is not None
        }
        pg_procs = []
        if stack.postgres is not None:
            pg_procs = [p for p in psutil.process_iter(["name", "cmdline"]) if "postgres" in (p.info["name"] or "")]

        def cpu_snapshot() -> dict[str, float]:
            snap = {}
            for name, proc in processes.items():
                t = proc.cpu_times()
                snap[name] = t.user + t.system
            pg = 0.0
            for proc in pg_procs:
                try:
                    t = proc.cpu_times()
                    pg += t.user + t.system
                except psutil.Error:
                    pass
            snap["postgres"] = pg
            return snap

        queue: mp.Queue = mp.get_context("spawn").Queue()
        worker = mp.get_context("spawn").Process(
            target=_load_worker,
            args=(url, creds["api_token"], args.concurrency, args.warmup, args.duration, queue),
        )
        worker.start()
        time.sleep(args.warmup)
        cpu_before = cpu_snapshot()
        result = queue.get(timeout=args.warmup + args.duration + 120)
        cpu_after = cpu_snapshot()
        worker.join()
        batch_sizes = _mean_batch_sizes(httpx, f"http://127.0.0.1:{stack.services['meeting'].metrics_port}/metrics")
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    latencies = sorted(result["latencies"])
    ok = len(latencies)
    rate = ok / args.duration
    p50, p95, p99 = (_percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99))
    signs = _openssl_signs_per_second()
    cores = os.cpu_count() or 1
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    print()
    print(f"add-participant  concurrency={args.concurrency}  duration={args.duration:.0f}s  cores={cores}")
    print(f"  throughput      {rate:8.0f} participants/s   (goal {GOAL_PER_SECOND}/s: {rate / GOAL_PER_SECOND:.2f}x)")
    print(f"  latency         p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms   (goal p99 ≤ {GOAL_P99_MS:.0f} ms)")
    print(f"  errors          {result['errors'] or 'none'}")
    if signs:
        ceiling = signs * cores
        print(f"  openssl rsa2048 {signs:8.0f} signs/s per core → ceiling {ceiling:.0f}/s on {cores} cores; "
              f"reached {rate / ceiling:.1%} of it")
    print("  CPU per request (ms) by process, during the measured window:")
    for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
        if ok:
            print(f"    {name:<13} {seconds / ok * 1000:6.3f} ms   ({seconds / args.duration:4.0%} of a core)")
    print(f"    {'load client':<13} {result['load_cpu'] / max(ok, 1) * 1000:6.3f} ms")
    for name, mean in batch_sizes.items():
        print(f"  meeting → auth token batches ({name}): {mean:.1f} tokens per call on average (whole run)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "throughput_per_s": rate, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "errors": result["errors"],
        "openssl_rsa2048_signs_per_s": signs, "cpu_seconds": cpu, "requests": ok,
        "concurrency": args.concurrency, "duration_s": args.duration,
    }, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
