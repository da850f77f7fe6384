"""`rtk accounts|apps|tokens|keys` against the real AuthService (run as a separate process)."""

from __future__ import annotations

import asyncio
import json
import os
import sys

from authtest_support import INTERNAL_TOKEN


async def rtk(server, *args: str, env_extra: dict[str, str] | None = None) -> tuple[int, dict]:
    env = {**os.environ, "RTK_AUTH_ADDR": server.address, "RTK_INTERNAL_TOKEN": INTERNAL_TOKEN, **(env_extra or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtk_cli.main", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    if process.returncode == 0:
        return 0, json.loads(out)
    # The error is the JSON line on stderr; gRPC's C core may log lines of its own around it.
    lines = [line for line in err.decode().splitlines() if line.startswith("{")]
    assert lines, err.decode()
    return process.returncode, json.loads(lines[-1])


async def test_admin_commands(auth_server, tmp_path):
    code, out = await rtk(auth_server, "accounts", "create", "acme")
    assert code == 0, out
    account_id = out["account"]["id"]
    code, out = await rtk(auth_server, "apps", "create", "--account", account_id, "prod")
    assert code == 0 and out["app"]["account_id"] == account_id and out["app"]["name"] == "prod"
    code, out = await rtk(auth_server, "apps", "create", "--account", account_id, "prod")
    assert code == 1 and out["error"]["reason"] == "APP_NAME_TAKEN"
    code, out = await rtk(auth_server, "tokens", "create", "--account", account_id, "--name", "ci")
    assert code == 0 and out["secret"].startswith("rtk_") and out["api_token"]["name"] == "ci"
    token_id = out["api_token"]["id"]
    code, out = await rtk(auth_server, "tokens", "revoke", token_id)
    assert code == 0 and "revoke_time" in out["api_token"]

    code, out = await rtk(auth_server, "keys", "list")
    assert code == 0 and len(out["signing_keys"]) == 1
    first = out["signing_keys"][0]["kid"]
    code, out = await rtk(auth_server, "keys", "rotate")
    assert code == 0 and out["kid"] != first
    code, out = await rtk(auth_server, "keys", "retire", first)
    assert code == 0 and out["signing_key"]["state"] == "SIGNING_KEY_STATE_RETIRED"
    code, out = await rtk(auth_server, "keys", "list")
    assert [k["state"] for k in out["signing_keys"]] == ["SIGNING_KEY_STATE_ACTIVE", "SIGNING_KEY_STATE_RETIRED"]


async def test_credentials_file_and_errors(auth_server, tmp_path):
    (tmp_path / "credentials.json").write_text(json.dumps({
        "account_id": "", "grpc": {"auth": auth_server.address}, "internal_token": INTERNAL_TOKEN,
    }))
    env = {"RTK_DATA_DIR": str(tmp_path), "RTK_AUTH_ADDR": "", "RTK_INTERNAL_TOKEN": ""}
    code, out = await rtk(auth_server, "accounts", "create", "from-file", env_extra=env)
    assert code == 0 and out["account"]["name"] == "from-file"
    code, out = await rtk(auth_server, "keys", "list", env_extra={"RTK_INTERNAL_TOKEN": "wrong"})
    assert code == 1 and out["error"]["reason"] == "API_CREDENTIALS_INVALID"
    code, out = await rtk(auth_server, "keys", "list",
                          env_extra={"RTK_DATA_DIR": str(tmp_path / "none"), "RTK_AUTH_ADDR": "", "RTK_INTERNAL_TOKEN": ""})
    assert code == 1 and "address" in out["error"]["message"]
