"""`rtk accounts|apps|tokens|keys …`: administration through AuthService (internal credentials).

Connection: `--auth-addr` / `RTK_AUTH_ADDR` / `grpc.auth` in `$RTK_DATA_DIR/credentials.json`
(written by `rtk run`), with `RTK_INTERNAL_TOKEN` or the file's `internal_token`. Every command
prints JSON on stdout; failures print a JSON error on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message
from realtime.auth.v1 import auth_service_pb2 as pb
from realtime.auth.v1 import auth_service_pb2_grpc
from rtkit.clients import internal_metadata
from rtkit.errors import decode_rpc_error

TIMEOUT = 30.0


class CliError(Exception):
    pass


def _credentials(args: argparse.Namespace) -> dict[str, Any]:
    path = Path(args.data_dir or os.environ.get("RTK_DATA_DIR", ".rtk")) / "credentials.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {exc}") from None


def _connection(args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    saved = _credentials(args)
    address = args.auth_addr or os.environ.get("RTK_AUTH_ADDR") or (saved.get("grpc") or {}).get("auth")
    token = os.environ.get("RTK_INTERNAL_TOKEN") or saved.get("internal_token")
    if not address:
        raise CliError("no auth service address: pass --auth-addr, set RTK_AUTH_ADDR, or run `rtk run` first")
    if not token:
        raise CliError("no internal token: set RTK_INTERNAL_TOKEN (or use the credentials.json of `rtk run`)")
    return address, token, saved


def _as_json(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _account(args: argparse.Namespace, saved: dict[str, Any]) -> str:
    account = args.account or saved.get("account_id")
    if not account:
        raise CliError("--account is required")
    return account


Action = Callable[[auth_service_pb2_grpc.AuthServiceStub, argparse.Namespace, dict[str, Any]], Message]

_ACTIONS: dict[str, Action] = {
    "accounts.create": lambda stub, a, s: stub.CreateAccount(pb.CreateAccountRequest(name=a.name)),
    "apps.create": lambda stub, a, s: stub.CreateApp(pb.CreateAppRequest(account_id=_account(a, s), name=a.name)),
    "apps.list": lambda stub, a, s: stub.ListApps(
        pb.ListAppsRequest(account_id=a.account or "", page_size=a.limit, search=a.search or "")
    ),
    "tokens.create": lambda stub, a, s: stub.CreateApiToken(
        pb.CreateApiTokenRequest(account_id=_account(a, s), name=a.name or "")
    ),
    "tokens.revoke": lambda stub, a, s: stub.RevokeApiToken(pb.RevokeApiTokenRequest(token_id=a.token_id)),
    "keys.rotate": lambda stub, a, s: stub.RotateSigningKey(pb.RotateSigningKeyRequest()),
    "keys.retire": lambda stub, a, s: stub.RetireSigningKey(pb.RetireSigningKeyRequest(kid=a.kid)),
    "keys.list": lambda stub, a, s: stub.ListSigningKeys(pb.ListSigningKeysRequest()),
}


class _Stub:
    """AuthServiceStub whose calls carry the internal token and a deadline."""

    def __init__(self, channel: grpc.Channel, token: str) -> None:
        self._stub = auth_service_pb2_grpc.AuthServiceStub(channel)
        self._metadata = internal_metadata(token)

    def __getattr__(self, name: str) -> Callable[[Message], Message]:
        method = getattr(self._stub, name)
        return lambda request: method(request, metadata=self._metadata, timeout=TIMEOUT)


def _execute(args: argparse.Namespace) -> int:
    try:
        address, token, saved = _connection(args)
        with grpc.insecure_channel(address) as channel:
            response = _ACTIONS[args.admin_action](_Stub(channel, token), args, saved)  # type: ignore[arg-type]
    except CliError as exc:
        print(json.dumps({"error": {"message": str(exc)}}), file=sys.stderr)
        return 1
    except grpc.RpcError as exc:
        decoded = decode_rpc_error(exc)
        error = {"code": decoded.code.name, "reason": decoded.reason, "message": decoded.message}
        if decoded.metadata:
            error["metadata"] = decoded.metadata
        print(json.dumps({"error": error}), file=sys.stderr)
        return 1
    print(json.dumps(_as_json(response), indent=2))
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--auth-addr", help="AuthService host:port (default $RTK_AUTH_ADDR or credentials.json)")
    parser.add_argument("--data-dir", help="where credentials.json lives (default $RTK_DATA_DIR or ./.rtk)")


def add_admin_commands(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Register `accounts`, `apps`, `tokens` and `keys` on the `rtk` parser."""

    def group(name: str, help_text: str) -> argparse._SubParsersAction:  # type: ignore[type-arg]
        parser = subparsers.add_parser(name, help=help_text)
        return parser.add_subparsers(dest=f"{name}_action", required=True)

    def action(group_: argparse._SubParsersAction, name: str, key: str, help_text: str) -> argparse.ArgumentParser:  # type: ignore[type-arg]
        parser = group_.add_parser(name, help=help_text)
        _common(parser)
        parser.set_defaults(func=_execute, admin_action=key)
        return parser

    accounts = group("accounts", "manage accounts")
    p = action(accounts, "create", "accounts.create", "create an account")
    p.add_argument("name")

    apps = group("apps", "manage apps")
    p = action(apps, "create", "apps.create", "create an app in an account")
    p.add_argument("--account", help="account id (default: the one in credentials.json)")
    p.add_argument("name")
    p = action(apps, "list", "apps.list", "list apps (of one account, or all)")
    p.add_argument("--account", help="account id (default: all accounts)")
    p.add_argument("--search", help="substring of the name")
    p.add_argument("--limit", type=int, default=100, help="maximum apps to list")

    tokens = group("tokens", "manage API tokens")
    p = action(tokens, "create", "tokens.create", "create an API token (the secret is printed once)")
    p.add_argument("--account", help="account id (default: the one in credentials.json)")
    p.add_argument("--name", help="label for the token")
    p = action(tokens, "revoke", "tokens.revoke", "revoke an API token")
    p.add_argument("token_id", metavar="ID")

    keys = group("keys", "manage participant-token signing keys")
    action(keys, "rotate", "keys.rotate", "create a new signing key; the old one keeps verifying until retired")
    p = action(keys, "retire", "keys.retire", "retire a non-active key: tokens it signed stop verifying")
    p.add_argument("kid", metavar="KID")
    action(keys, "list", "keys.list", "list signing keys")
