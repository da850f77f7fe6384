"""The service Dockerfiles (parsed, since the tests cannot run docker) and `make images`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass

import pytest
from deploy_support import CHART, REPO, SERVICES

PINNED_BASE = re.compile(
    r"^python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?$|^python@sha256:[0-9a-f]{64}$"
)
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)


@dataclass
class Instruction:
    keyword: str
    args: str
    stage: int  # -1 before the first FROM


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions, continuation lines joined, comments and parser directives dropped."""
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        pending = ""
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, " ".join(args.split()), stage))
    assert not pending, "dangling line continuation"
    return instructions


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    defaults = {}
    for ins in instructions:
        if ins.keyword == "ARG" and "=" in ins.args:
            name, _, value = ins.args.partition("=")
            defaults.setdefault(name, value.strip('"'))
    return defaults


def expand(value: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), value)


def dockerfile(svc: str) -> list[Instruction]:
    return parse((REPO / "services" / svc / "Dockerfile").read_text())


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


def makefile_var(name: str) -> str:
    match = re.search(rf"^{name}\s*:?=\s*(\S+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert match, f"{name} not in the root Makefile"
    return match[1]


def test_every_service_has_a_dockerfile():
    with_code = {p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")}
    assert with_code == set(SERVICES)
    for svc in SERVICES:
        assert (REPO / "services" / svc / "Dockerfile").is_file(), svc


@pytest.mark.parametrize("svc", SERVICES)
def test_base_images_are_pinned_slim_python(svc):
    instructions = dockerfile(svc)
    args = arg_defaults([i for i in instructions if i.stage == -1])
    stages = []
    for ins in instructions:
        if ins.keyword != "FROM":
            continue
        image, _, alias = expand(ins.args, args).partition(" AS ")
        assert PINNED_BASE.match(image), f"{svc}: unpinned base image {image!r}"
        stages.append(alias.strip())
    assert len(stages) >= 2, "multi-stage build"
    for ins in instructions:
        if ins.keyword == "COPY" and (m := re.search(r"--from=(\S+)", ins.args)):
            assert m[1] in stages[: ins.stage], f"{svc}: COPY --from={m[1]} is not an earlier stage"


@pytest.mark.parametrize("svc", SERVICES)
def test_runs_the_service_as_non_root(svc):
    final = final_stage(dockerfile(svc))
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, f"{svc}: no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user.isdigit(), (
        f"{svc}: USER {users[-1]} (numeric non-root needed for runAsNonRoot)"
    )
    assert [i.keyword for i in final].index("USER") > max(
        n for n, i in enumerate(final) if i.keyword in ("RUN", "COPY")
    ), "USER comes after the last RUN/COPY"


@pytest.mark.parametrize("svc", SERVICES)
def test_entrypoint_runs_the_service(svc):
    final = final_stage(dockerfile(svc))
    entrypoint = json.loads(next(i.args for i in final if i.keyword == "ENTRYPOINT"))
    cmd = json.loads(next(i.args for i in final if i.keyword == "CMD"))
    assert entrypoint + cmd == ["python", "-m", f"rtk_{svc}", "serve"]
    assert (REPO / "services" / svc / "src" / f"rtk_{svc}").is_dir()
    env = " ".join(i.args for i in final if i.keyword == "ENV")
    assert "PATH=/app/.venv/bin:" in env, "python is the virtualenv's"


@pytest.mark.parametrize("svc", SERVICES)
def test_installs_only_this_service_from_the_lock(svc):
    instructions = dockerfile(svc)
    args = arg_defaults(instructions)
    assert args["SERVICE"] == svc
    package = tomllib.loads((REPO / "services" / svc / "pyproject.toml").read_text())["project"]["name"]
    runs = [expand(i.args, args) for i in instructions if i.keyword == "RUN"]
    syncs = [r for r in runs if "uv sync" in r]
    assert syncs, "uses uv sync"
    for run in syncs:
        assert "--frozen" in run and "--no-dev" in run, run
        assert f'--package "{package}"' in run or f"--package {package}" in run, run
    assert any(f"uv=={makefile_var('UV_VERSION')}" in r and "pip install" in r for r in runs), (
        "uv from PyPI, pinned to the root Makefile's UV_VERSION"
    )
    copies = [i.args for i in final_stage(instructions) if i.keyword == "COPY"]
    assert not any(re.search(r"/app/services\s", c + " ") for c in copies), (
        "no other service's code in the image"
    )
    assert any(expand(c, args).endswith(f"services/{svc}") for c in copies)


@pytest.mark.parametrize("svc", SERVICES)
def test_no_secrets_in_the_image(svc):
    for ins in dockerfile(svc):
        if ins.keyword in ("ENV", "ARG", "LABEL"):
            names = re.findall(r"(\w+)=", ins.args) or [ins.args.split()[0]]
            assert not any(SECRET_NAME.search(n) for n in names), f"{svc}: {ins.keyword} {ins.args}"
        if ins.keyword in ("ADD", "RUN"):
            assert not re.search(r"https?://", ins.args), (
                f"{svc}: downloads outside the package registry: {ins.args}"
            )


def test_dockerfiles_differ_only_in_the_service_name():
    reference = (REPO / "services" / SERVICES[0] / "Dockerfile").read_text().replace(SERVICES[0], "<svc>")
    for svc in SERVICES[1:]:
        assert (REPO / "services" / svc / "Dockerfile").read_text().replace(svc, "<svc>") == reference, svc


@pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")
def test_make_images_builds_every_service_from_the_root():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "MFLAGS"}
    out = subprocess.run(
        ["make", "--no-print-directory", "-n", "images"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    commands = out.stdout.replace("\\\n", " ")
    app_version = re.search(r'^appVersion: "?([^"\n]+)"?', (CHART / "Chart.yaml").read_text(), re.MULTILINE)[
        1
    ]
    for svc in SERVICES:
        assert re.search(
            rf"docker build --file services/{svc}/Dockerfile .*--tag realtime-{svc}:{re.escape(app_version)}\s.*\s\.$",
            commands,
            re.MULTILINE,
        ), commands
