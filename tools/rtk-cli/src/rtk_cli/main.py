"""`rtk`: run the local stack and administer accounts, apps, API tokens and signing keys."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path


def _run(args: argparse.Namespace) -> int:
    from rtk_cli.devstack import DevStack

    data_dir = Path(args.data_dir or os.environ.get("RTK_DATA_DIR", ".rtk"))
    # The local stack serves the demo launcher at / (docs/web.md) unless RTK_GATEWAY_DEMO=false.
    demo = {"RTK_GATEWAY_DEMO": os.environ.get("RTK_GATEWAY_DEMO", "true")}
    stack = DevStack(data_dir, log_to_files=args.quiet, free_ports=args.free_ports, extra_env=demo)
    stopping = False

    def _stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    started = time.monotonic()
    try:
        credentials = stack.start()
    except Exception as exc:  # noqa: BLE001 - reported, the stack is already stopped
        print(f"rtk: failed to start: {exc}", file=sys.stderr)
        return 1
    grpc_lines = "\n".join(f"    {name:<13} {addr}" for name, addr in credentials["grpc"].items())  # type: ignore[union-attr]
    print(
        f"""
RealtimeKit stack is up in {time.monotonic() - started:.1f}s  (data: {stack.data_dir})

  Gateway     {credentials['gateway_url']}
  Meetings    {credentials['gateway_url']}/   (demo launcher: create a meeting, open the host / guest links)
  REST base   {credentials['gateway_url']}/client/v4/accounts/{credentials['account_id']}/realtime/kit/{credentials['app_id']}
  Account id  {credentials['account_id']}
  App id      {credentials['app_id']}
  API token   {credentials['api_token']}
  gRPC
{grpc_lines}

  Credentials saved to {stack.data_dir / 'credentials.json'}. Ctrl-C stops everything.
""",
        flush=True,
    )
    code = 0
    while not stopping:
        failed = stack.failed()
        if failed:
            print(f"rtk: {', '.join(failed)} exited unexpectedly; stopping the stack", file=sys.stderr)
            code = 1
            break
        time.sleep(0.2)
    print("rtk: stopping…", flush=True)
    stack.stop()
    print("rtk: stopped", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rtk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the whole stack locally (embedded Postgres and NATS by default)")
    run.add_argument("--data-dir", help="data directory (default $RTK_DATA_DIR or ./.rtk)")
    run.add_argument("--quiet", action="store_true", help="write service logs to <data-dir>/logs instead of stdout")
    run.add_argument("--free-ports", action="store_true", help="pick free ports instead of the defaults (parallel runs)")
    run.set_defaults(func=_run)
    try:
        from rtk_cli.admin import add_admin_commands
    except ImportError:  # admin commands ship with the auth service's protos
        pass
    else:
        add_admin_commands(sub)
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
