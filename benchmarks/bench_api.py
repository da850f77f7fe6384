"""make bench-api: add-participant through REST → gRPC → Postgres → RS256 token.

Starts the real stack (embedded Postgres/NATS unless RTK_DATABASE_URL / RTK_NATS_URL are set),
creates one meeting per load run, then drives `POST …/meetings/{id}/participants` at a fixed
concurrency (`--concurrency 8,32,64` runs once per value against the same stack) from a separate
load process: a minimal HTTP/1.1 keep-alive client on asyncio/uvloop, one persistent connection per
concurrent caller, one request in flight per connection. Prints throughput, latency percentiles,
CPU milliseconds per request for each service process, Postgres, NATS and the load client (where
the time goes, and the request rate those costs allow on this many cores), and
`openssl speed rsa2048` signs/s as the ceiling.
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
from urllib.parse import urlsplit

GOAL_PER_SECOND = 2000
GOAL_P99_MS = 50.0


def _load_worker(
    url: str, token: str, concurrency: int, warmup: float, duration: float, tag: str, queue: mp.Queue
) -> None:
    """Drive `url` with `concurrency` keep-alive connections; report via `queue`.

    Messages: ("measure_start",) when the measured window opens, ("measure_end",) when every
    connection has finished its last request, then ("result", {...}).
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    head = (
        f"POST {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: "
    ).encode()
    body_fmt = (
        b'{"name":"user %d-%d","preset_name":"group_call_participant",'
        b'"custom_participant_id":"bench-' + tag.encode() + b'-%d-%d"}'
    )

    latencies: list[float] = []
    errors: dict[int, int] = {}
    counter = 0
    clock = time.perf_counter
    cpu_window: list[float] = []

    class Conn(asyncio.Protocol):
        """One connection; the next request is written straight from data_received (no task hop)."""

        def __init__(self, wid: int, measure_from: float, stop_at: float, closed: asyncio.Future) -> None:
            self.wid = wid
            self.measure_from = measure_from
            self.stop_at = stop_at
            self.closed = closed
            self.transport: asyncio.Transport | None = None
            self.buf = b""
            self.t0 = 0.0
            self.in_flight = False
            self.finished = False  # stop time reached, nothing more to send

        def connection_made(self, transport) -> None:  # type: ignore[override]
            self.transport = transport
            self.send_next()

        def send_next(self) -> None:
            nonlocal counter
            t0 = clock()
            if t0 >= self.stop_at:
                self.finished = True
                self.transport.close()
                return
            counter += 1
            n = counter
            body = body_fmt % (self.wid, n, self.wid, n)
            self.t0 = t0
            self.in_flight = True
            self.transport.write(b"%s%d\r\n\r\n%s" % (head, len(body), body))

        def record(self, status: int) -> None:
            self.in_flight = False
            if self.t0 >= self.measure_from:
                if status == 201:
                    latencies.append(clock() - self.t0)
                else:
                    errors[status] = errors.get(status, 0) + 1

        def data_received(self, data: bytes) -> None:
            buf = self.buf + data if self.buf else data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self.buf = buf
                return
            headers = buf[:end].lower()
            body_start = end + 4
            i = headers.find(b"\r\ncontent-length:")
            if i >= 0:
                j = headers.find(b"\r\n", i + 17)
                total = body_start + int(headers[i + 17: j if j >= 0 else None])
            elif b"\r\ntransfer-encoding: chunked" in headers:
                total = self._chunked_end(buf, body_start)
                if total < 0:
                    self.buf = buf
                    return
            else:
                total = body_start  # no body (e.g. 204)
            if len(buf) < total:
                self.buf = buf
                return
            self.buf = buf[total:]
            try:
                status = int(buf[9:12])
            except ValueError:
                status = 0
            self.record(status)
            if b"\r\nconnection: close" in headers:
                self.transport.close()  # connection_lost reconnects
            else:
                self.send_next()

        @staticmethod
        def _chunked_end(buf: bytes, pos: int) -> int:
            """Index just past a complete chunked body starting at `pos`, or -1 if more is needed."""
            while True:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return -1
                size = int(buf[pos:eol].split(b";", 1)[0], 16)
                if size == 0:
                    trailer_end = buf.find(b"\r\n\r\n", eol)
                    return -1 if trailer_end < 0 else trailer_end + 4
                pos = eol + 2 + size + 2
                if len(buf) < pos:
                    return -1

        def connection_lost(self, exc: Exception | None) -> None:
            if self.in_flight:
                self.record(0)
            if not self.closed.done():
                self.closed.set_result(None)

    async def connection(wid: int, measure_from: float, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        while clock() < stop_at:
            closed = loop.create_future()
            proto = Conn(wid, measure_from, stop_at, closed)
            try:
                await loop.create_connection(lambda p=proto: p, host, port)
            except OSError:
                if clock() >= measure_from:
                    errors[0] = errors.get(0, 0) + 1
                await asyncio.sleep(0.05)
                continue
            await closed
            if proto.finished:
                return
            await asyncio.sleep(0.001)  # dropped by the server: reconnect

    async def run() -> None:
        loop = asyncio.get_running_loop()
        start = clock()
        measure_from = start + warmup
        stop_at = measure_from + duration

        def open_window() -> None:
            cpu_window.append(time.process_time())
            queue.put(("measure_start",))

        loop.call_at(loop.time() + warmup, open_window)
        cpu_total0 = time.process_time()
        await asyncio.gather(*(connection(i, measure_from, stop_at) for i in range(concurrency)))
        cpu_end = time.process_time()
        queue.put(("measure_end",))
        queue.put(("result", {
            "latencies": latencies,
            "errors": errors,
            "load_cpu": cpu_end - (cpu_window[0] if cpu_window else cpu_total0),
            "load_cpu_total": cpu_end - cpu_total0,
        }))

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(run())


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


def _concurrency_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma list of integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _process_groups(psutil, stack, data_dir: Path) -> dict[str, list]:
    """Root processes per accounting line: each service, Postgres and NATS of *this* stack only.

    Their descendants are included at snapshot time, so system-wide Postgres / NATS servers (and
    anything else on the box) are not counted.
    """
    groups: dict[str, list] = {
        name: [psutil.Process(svc.process.pid)] for name, svc in stack.services.items() if svc.process is not None
    }
    marker = str(data_dir)
    by_name: dict[str, list] = {"postgres": [], "nats": []}
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or ())
        if marker not in cmdline:
            continue
        if "postgres" in (proc.info["name"] or "") and stack.postgres is not None:
            by_name["postgres"].append(proc)  # the postmaster (-D <data_dir>/postgres); backends are its children
        elif "nats-server" in (proc.info["name"] or "") or "nats-server" in cmdline:
            by_name["nats"].append(proc)
    nats_proc = getattr(getattr(stack, "nats", None), "process", None)
    if nats_proc is not None and not any(p.pid == nats_proc.pid for p in by_name["nats"]):
        by_name["nats"].append(psutil.Process(nats_proc.pid))
    for name, procs in by_name.items():
        # keep only roots: a process whose ancestor is already listed is picked up as a descendant
        pids = {p.pid for p in procs}
        roots = []
        for p in procs:
            try:
                if not any(a.pid in pids for a in p.parents()):
                    roots.append(p)
            except psutil.Error:
                pass
        if roots:
            groups[name] = roots
    return groups


def _cpu_snapshot(psutil, groups: dict[str, list]) -> dict[str, dict[int, float]]:
    """CPU seconds (user + system) per pid, for each group's roots and all their descendants."""
    snap: dict[str, dict[int, float]] = {}
    for name, roots in groups.items():
        per_pid: dict[int, float] = {}
        for root in roots:
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            for proc in procs:
                try:
                    t = proc.cpu_times()
                except psutil.Error:
                    continue
                per_pid[proc.pid] = t.user + t.system
        snap[name] = per_pid
    return snap


def _cpu_delta(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """Per group: CPU used in between (a process started in between counts in full; exited ones are lost)."""
    return {
        name: sum(max(0.0, sec - before.get(name, {}).get(pid, 0.0)) for pid, sec in per_pid.items())
        for name, per_pid in after.items()
    }


def _run_load(httpx, psutil, base: str, creds: dict, groups: dict[str, list], concurrency: int,
              args: argparse.Namespace, tag: str) -> tuple[dict, dict[str, float]]:
    headers = {"Authorization": f"Bearer {creds['api_token']}"}
    meeting = httpx.post(f"{base}/meetings", json={"title": f"bench {tag}"}, headers=headers, timeout=30).json()["data"]
    url = f"{base}/meetings/{meeting['id']}/participants"
    ctx = mp.get_context("spawn")
    queue: mp.Queue = ctx.Queue()
    worker = ctx.Process(
        target=_load_worker,
        args=(url, creds["api_token"], concurrency, args.warmup, args.duration, tag, queue),
    )
    worker.start()
    timeout = args.warmup + args.duration + 120
    cpu_before = cpu_after = None
    result = None
    try:
        while result is None:
            kind, *payload = queue.get(timeout=timeout)
            if kind == "measure_start":
                cpu_before = _cpu_snapshot(psutil, groups)
            elif kind == "measure_end":
                cpu_after = _cpu_snapshot(psutil, groups)
            else:
                result = payload[0]
    finally:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.kill()
    if cpu_before is None:
        cpu_before = {}
    if cpu_after is None:
        cpu_after = _cpu_snapshot(psutil, groups)
    return result, _cpu_delta(cpu_before, cpu_after)


def _report(result: dict, cpu: dict[str, float], concurrency: int, args: argparse.Namespace,
            signs: float | None, cores: int) -> dict[str, object]:
    latencies = sorted(result["latencies"])
    ok = len(latencies)
    rate = ok / args.duration
    p50, p95, p99 = (_percentile(latencies, q) * 1000 for q in (0.50, 0.95, 0.99))
    per_request_ms = {name: seconds / ok * 1000 for name, seconds in cpu.items()} if ok else {}
    load_ms = result["load_cpu"] / ok * 1000 if ok else float("nan")
    stack_ms = sum(per_request_ms.values()) if ok else float("nan")
    total_ms = stack_ms + load_ms
    stack_ceiling = cores * 1000 / stack_ms if ok and stack_ms > 0 else float("nan")
    total_ceiling = cores * 1000 / total_ms if ok and total_ms > 0 else float("nan")
    print()
    print(f"add-participant  concurrency={concurrency}  duration={args.duration:.0f}s  cores={cores}")
    print(f"  throughput      {rate:8.0f} participants/s   (goal {GOAL_PER_SECOND}/s: {rate / GOAL_PER_SECOND:.2f}x)")
    print(f"  latency         p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms   (goal p99 ≤ {GOAL_P99_MS:.0f} ms)")
    print(f"  errors          {result['errors'] or 'none'}")
    if signs:
        ceiling = signs * cores
        print(f"  openssl rsa2048 {signs:8.0f} signs/s per core → ceiling {ceiling:.0f}/s on {cores} cores; "
              f"reached {rate / ceiling:.1%} of it")
    print("  CPU per request (ms) by process, during the measured window:")
    if ok:
        for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1]):
            print(f"    {name:<13} {seconds / ok * 1000:6.3f} ms   ({seconds / args.duration:4.0%} of a core)")
        print(f"    {'load client':<13} {load_ms:6.3f} ms   ({result['load_cpu'] / args.duration:4.0%} of a core)")
        print(f"  total CPU per request (services + Postgres + NATS) {stack_ms:6.3f} ms"
              f"  → ceiling {stack_ceiling:6.0f}/s on {cores} cores")
        print(f"                                    + load client   {total_ms:6.3f} ms"
              f"  → ceiling {total_ceiling:6.0f}/s on {cores} cores")
    return {
        "throughput_per_s": rate, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "errors": result["errors"],
        "openssl_rsa2048_signs_per_s": signs, "cpu_seconds": cpu, "requests": ok,
        "cpu_ms_per_request": per_request_ms, "load_client_cpu_seconds": result["load_cpu"],
        "load_client_cpu_ms_per_request": load_ms,
        "total_cpu_ms_per_request": stack_ms, "total_cpu_ms_per_request_with_load_client": total_ms,
        "cpu_ceiling_per_s": stack_ceiling, "cpu_ceiling_per_s_with_load_client": total_ceiling,
        "cores": cores, "concurrency": concurrency, "duration_s": args.duration,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=_concurrency_list, default=[32, 64],
                        help="connections; a comma list (8,32,64) runs once per value on the same stack")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--json", type=Path, default=Path(".bench/api.json"))
    args = parser.parse_args()

    import httpx
    import psutil
    from rtk_cli.devstack import DevStack

    data_dir = Path(tempfile.mkdtemp(prefix="rtk-bench-api-"))
    # Log level as `make run` has it (info): one log line per added participant is part of the cost.
    log_level = os.environ.get("RTK_LOG_LEVEL", "info")
    stack = DevStack(data_dir, free_ports=True, log_to_files=True, extra_env={"RTK_LOG_LEVEL": log_level})
    print(f"starting the stack in {data_dir} …", flush=True)
    runs: list[tuple[int, dict, dict[str, float]]] = []
    batch_sizes: dict[str, float] = {}
    creds = stack.start()
    try:
        base = f"{creds['gateway_url']}/client/v4/accounts/{creds['account_id']}/realtime/kit/{creds['app_id']}"
        groups = _process_groups(psutil, stack, data_dir)
        run_id = os.urandom(3).hex()
        for index, concurrency in enumerate(args.concurrency):
            print(f"load run {index + 1}/{len(args.concurrency)}: concurrency={concurrency} …", flush=True)
            result, cpu = _run_load(httpx, psutil, base, creds, groups, concurrency, args, f"{run_id}-c{concurrency}-{index}")
            runs.append((concurrency, result, cpu))
        batch_sizes = {}
        for service in ("gateway", "meeting"):
            batch_sizes.update(_mean_batch_sizes(
                httpx, f"http://127.0.0.1:{stack.services[service].metrics_port}/metrics"))
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    signs = _openssl_signs_per_second()
    cores = os.cpu_count() or 1
    reports = [_report(result, cpu, concurrency, args, signs, cores) for concurrency, result, cpu in runs]
    what = {"gateway-add-participant": "gateway → meeting: participants per BatchAddParticipants flush",
            "token-issuer": "meeting → auth: tokens per BatchIssueParticipantTokens flush"}
    for name, mean in batch_sizes.items():
        print(f"  {what.get(name, name)}: {mean:.1f} on average (whole run)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2))
    return 0 if all(r["requests"] for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
