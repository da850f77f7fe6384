"""The README's curl and grpcurl examples work as written against a running stack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _section_code(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, f"no sh block under '{title}'"
    return "\n".join(blocks)


@pytest.fixture
def readme_cwd(stack, tmp_path: Path) -> Path:
    """A directory laid out like the repository root after `make run`: .rtk and .venv."""
    (tmp_path / ".rtk").symlink_to(stack.dev.data_dir)
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    return tmp_path


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_rest_examples_run_as_written(readme_cwd):
    script = "set -eu\n" + _section_code("Calling the REST API")
    result = subprocess.run(["bash", "-c", script], cwd=readme_cwd, capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count('"success":true') >= 4, out
    assert '"token":"ey' in out  # the participant's RS256 JWT
    assert '"keys":[' in out  # JWKS
    assert '"openapi"' in out


def test_grpc_examples_run_as_written(readme_cwd):
    script = ("set -euo pipefail\n"
              + _section_code("Calling the REST API").split("\n\n")[0]  # the eval line that sets TOKEN, APP
              + "\n" + _section_code("Calling gRPC"))
    result = subprocess.run(["bash", "-c", script], cwd=readme_cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "realtime.meeting.v1.MeetingService" in result.stdout
    assert '"status": "SERVING"' in result.stdout
    assert '"meetings"' in result.stdout or '"totalSize"' in result.stdout


async def test_python_sdk_example_runs_as_written(stack):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Joining a session", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, flags=re.S)[0]
    async with stack.client() as client:
        meeting = (await client.post(f"{stack.base}/meetings", json={"title": "readme"})).json()["data"]
        added = await client.post(f"{stack.base}/meetings/{meeting['id']}/participants", json={
            "name": "Ada", "preset_name": "group_call_host", "custom_participant_id": "ada"})
        token = added.json()["data"]["token"]
    body = "\n".join("    " + line for line in code.splitlines())
    namespace: dict = {}
    exec(f"async def example(token, gateway_url):\n{body}\n    return meeting\n", namespace)  # noqa: S102
    meeting_obj = await namespace["example"](token, stack.gateway_url)
    assert meeting_obj.self.room_state == "left"
    assert [m.message for m in meeting_obj.chat.messages] == ["hello"]
