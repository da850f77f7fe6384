"""Where add-participant's CPU goes: fixed cost per call against marginal cost per participant.

Starts the real stack like bench_api.py, then calls `ParticipantService.BatchAddParticipants`
directly over gRPC, one call at a time, with batches of 1, 5, 10, 20, 50 and 100 participants.
Prints CPU per call for each process (psutil) and, with --threads, for the threads of the meeting
and auth processes (/proc/<pid>/task, Linux). The difference between batch sizes separates the
fixed cost of a call (gRPC hops, transaction, event publish) from the cost of each participant
(its row, its RS256 signature, its event). The gateway is not involved: see bench_api.py for the
HTTP edge.

    .venv/bin/python benchmarks/bench_api_batches.py [--sizes 1,10,100] [--participants 1000] [--threads]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_api  # noqa: E402 - the stack and CPU accounting helpers


def _thread_cpu(pid: int) -> dict[str, tuple[str, float]]:
    """CPU seconds per thread id: (thread name, user + system)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[str, tuple[str, float]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except FileNotFoundError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[tid] = (name, (int(fields[11]) + int(fields[12])) / ticks)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,5,10,20,50,100")
    parser.add_argument("--participants", type=int, default=1000, help="participants added per batch size")
    parser.add_argument("--threads", action="store_true", help="also CPU per call of the busiest threads")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import grpc
    import httpx
    import psutil
    from realtime.meeting.v1 import participant_pb2, participant_service_pb2, participant_service_pb2_grpc
    from rtk_cli.devstack import DevStack
    from rtkit.clients import ACCOUNT_HEADER

    data_dir = Path(tempfile.mkdtemp(prefix="rtk-bench-batches-"))
    stack = DevStack(data_dir, free_ports=True, log_to_files=True,
                     extra_env={"RTK_LOG_LEVEL": os.environ.get("RTK_LOG_LEVEL", "info")})
    print(f"starting the stack in {data_dir} …", flush=True)
    creds = stack.start()
    try:
        groups = bench_api._process_groups(psutil, stack, data_dir)
        base = f"{creds['gateway_url']}/client/v4/accounts/{creds['account_id']}/realtime/kit/{creds['app_id']}"
        meeting = httpx.post(f"{base}/meetings", json={"title": "batches"}, timeout=30,
                             headers={"Authorization": f"Bearer {creds['api_token']}"}).json()["data"]["id"]
        metadata = (("authorization", f"Bearer {creds['api_token']}"), (ACCOUNT_HEADER, creds["account_id"]))

        async def run() -> None:
            async with grpc.aio.insecure_channel(creds["grpc"]["meeting"]) as channel:
                stub = participant_service_pb2_grpc.ParticipantServiceStub(channel)
                for size in sizes:
                    request = participant_service_pb2.BatchAddParticipantsRequest(
                        app_id=creds["app_id"], meeting_id=meeting, participants=[
                            participant_pb2.Participant(name=f"p{i}", preset_name="group_call_host",
                                                        custom_participant_id=f"c{i}") for i in range(size)])
                    for _ in range(5):  # warm up
                        await stub.BatchAddParticipants(request, metadata=metadata)
                    calls = max(20, args.participants // size)
                    pids = {name: groups[name][0].pid for name in ("meeting", "auth")}
                    threads_before = {name: _thread_cpu(pid) for name, pid in pids.items()}
                    before = bench_api._cpu_snapshot(psutil, groups)
                    started = time.perf_counter()
                    for _ in range(calls):
                        await stub.BatchAddParticipants(request, metadata=metadata)
                    wall = time.perf_counter() - started
                    cpu = bench_api._cpu_delta(before, bench_api._cpu_snapshot(psutil, groups))
                    per_call = {k: 1e3 * v / calls for k, v in cpu.items() if v > 0}
                    total = sum(per_call.values())
                    parts = ", ".join(f"{k} {v:.2f}" for k, v in sorted(per_call.items(), key=lambda kv: -kv[1])
                                      if v >= 0.05)
                    print(f"batch {size:3d}: {total:6.2f} ms CPU per call ({parts}); {total / size:.3f} ms per "
                          f"participant; {1e3 * wall / calls:.1f} ms wall per call", flush=True)
                    if args.threads:
                        for name, pid in pids.items():
                            after = _thread_cpu(pid)
                            busiest = sorted(((after[t][1] - threads_before[name].get(t, ("", 0.0))[1]) * 1e3 / calls,
                                              after[t][0]) for t in after)[::-1][:4]
                            print(f"    {name} threads: " + ", ".join(f"{n} {ms:.2f}" for ms, n in busiest))

        asyncio.run(run())
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
