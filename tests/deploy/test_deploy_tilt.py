"""The root Tiltfile: Starlark-compatible syntax, evaluated with stub Tilt builtins, and every
resource, image and path it names exists in the chart (rendered with values-dev.yaml) or the repo."""

from __future__ import annotations

import ast
import builtins
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from deploy_support import CHART, REPO, SERVICES, TABLE_OWNERS, workloads

TILTFILE = REPO / "Tiltfile"

# Python constructs Starlark (Tilt's dialect) does not have.
NOT_STARLARK = (
    ast.Import,
    ast.ImportFrom,
    ast.ClassDef,
    ast.While,
    ast.Try,
    ast.Raise,
    ast.With,
    ast.AsyncWith,
    ast.AsyncFor,
    ast.AsyncFunctionDef,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Global,
    ast.Nonlocal,
    ast.Lambda,
    ast.JoinedStr,
    ast.Set,
    ast.SetComp,
    ast.GeneratorExp,
    ast.NamedExpr,
    ast.Delete,
    ast.Assert,
    ast.Starred,
    ast.Match,
    ast.Pow,
    ast.MatMult,
    ast.Is,
    ast.IsNot,
)
STARLARK_BUILTINS = {
    "None",
    "True",
    "False",
    "any",
    "all",
    "bool",
    "dict",
    "dir",
    "enumerate",
    "fail",
    "float",
    "getattr",
    "hasattr",
    "hash",
    "int",
    "len",
    "list",
    "max",
    "min",
    "print",
    "range",
    "repr",
    "reversed",
    "sorted",
    "str",
    "tuple",
    "type",
    "zip",
}
TILT_BUILTINS = {
    "version_settings",
    "load",
    "read_yaml",
    "helm",
    "k8s_yaml",
    "k8s_resource",
    "docker_build",
    "sync",
    "run",
    "fall_back_on",
    "local",
    "watch_file",
    "config",
    "os",
}


def starlark_problems(source: str) -> list[str]:
    tree = ast.parse(source)
    problems = []
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    defined |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments) for a in n.args + n.kwonlyargs}
    loaded = set()
    for node in ast.walk(tree):
        where = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, NOT_STARLARK):
            problems.append(f"{where}: {type(node).__name__} is not Starlark")
        if isinstance(node, ast.Compare) and len(node.ops) > 1:
            problems.append(f"{where}: chained comparison")
        if isinstance(node, ast.For) and node.orelse:
            problems.append(f"{where}: for-else")
        if isinstance(node, ast.FunctionDef):
            if node.decorator_list:
                problems.append(f"{where}: decorator")
            calls = {
                c.func.id for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
            }
            if node.name in calls:
                problems.append(f"{where}: recursion")
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes | type(...)):
            problems.append(f"{where}: bytes/Ellipsis literal")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "load":
            loaded |= {a.value for a in node.args[1:] if isinstance(a, ast.Constant)}
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id not in defined | loaded | STARLARK_BUILTINS | TILT_BUILTINS:
                problems.append(f"{where}: unknown name {node.id}")
    return problems


@dataclass
class Tilt:
    """Records the Tilt API calls a Tiltfile makes."""

    calls: dict[str, list[tuple[tuple, dict]]] = field(default_factory=lambda: defaultdict(list))

    def recorder(self, name: str):
        def record(*args, **kwargs):
            self.calls[name].append((args, kwargs))
            return {"tilt": name, "args": args, "kwargs": kwargs}

        return record

    def resources(self) -> dict[str, dict]:
        return {args[0]: kwargs for args, kwargs in self.calls["k8s_resource"]}

    def images(self) -> dict[str, dict]:
        return {
            args[0]: {"context": args[1], **kwargs}
            for args, kwargs in self.calls["docker_build_with_restart"]
        }


def evaluate() -> Tilt:
    tilt = Tilt()
    namespace: dict = {}

    def load(module, *symbols):
        assert module == "ext://restart_process", module
        for symbol in symbols:
            namespace[symbol] = tilt.recorder(symbol)

    def read_yaml(path):
        return yaml.safe_load((REPO / path).read_text())

    def fail(message):
        raise AssertionError(f"Tiltfile fail(): {message}")

    allowed = {name: getattr(builtins, name) for name in STARLARK_BUILTINS if hasattr(builtins, name)}
    namespace["__builtins__"] = allowed | {"fail": fail}
    for name in TILT_BUILTINS - {"load", "read_yaml", "config", "os"}:
        namespace[name] = tilt.recorder(name)
    namespace.update(load=load, read_yaml=read_yaml)
    exec(compile(TILTFILE.read_text(), str(TILTFILE), "exec"), namespace)  # noqa: S102
    return tilt


@pytest.fixture(scope="module")
def tilt() -> Tilt:
    return evaluate()


@pytest.fixture(scope="module")
def dev_docs(render, tilt):
    ((chart, *_), helm_kwargs) = tilt.calls["helm"][0]
    return render([Path(v).name for v in helm_kwargs["values"]], release=helm_kwargs["name"])


def test_tiltfile_is_starlark():
    assert starlark_problems(TILTFILE.read_text()) == []


def test_starlark_check_catches_python_only_syntax():
    assert starlark_problems("import os\nx = f'{y}'\nwhile True:\n    pass\n")
    assert starlark_problems("def f(n):\n    return f(n)\n")


def test_version_settings_and_restart_extension(tilt):
    ((_, kwargs),) = tilt.calls["version_settings"]
    assert re.match(r">=\s*0\.\d+", kwargs["constraint"])
    assert tilt.calls["docker_build_with_restart"], "load('ext://restart_process', ...) used"


def test_deploys_the_chart_with_dev_values(tilt):
    ((args, kwargs),) = tilt.calls["helm"]
    assert (REPO / args[0]).resolve() == CHART
    assert kwargs["values"] == ["deploy/k8s/helm/realtimekit/values-dev.yaml"]
    assert len(tilt.calls["k8s_yaml"]) == 1


def test_one_live_updated_image_per_service(tilt, dev_docs):
    images = tilt.images()
    assert set(images) == {f"realtime-{svc}" for svc in SERVICES}
    deployed = {
        c["image"].rsplit(":", 1)[0]
        for d in dev_docs
        if "template" in d.get("spec", {})
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert set(images) <= deployed, "Tilt only replaces images the chart deploys"
    for svc in SERVICES:
        image = images[f"realtime-{svc}"]
        assert image["context"] == "."
        dockerfile = REPO / image["dockerfile"]
        assert dockerfile == REPO / "services" / svc / "Dockerfile"
        entrypoint = json.loads(re.search(r"^ENTRYPOINT (.*)$", dockerfile.read_text(), re.MULTILINE)[1])
        assert image["entrypoint"] == entrypoint
        for path in image["only"]:
            assert (REPO / path).exists(), path
        assert image["restart_file"].startswith("/app/")
        steps = image["live_update"]
        assert steps[0]["tilt"] == "fall_back_on"
        syncs = {s["args"][0]: s["args"][1] for s in steps if s["tilt"] == "sync"}
        assert f"services/{svc}" in syncs and "libs/rtkit" in syncs
        for local, remote in syncs.items():
            assert (REPO / local).is_dir() and remote == f"/app/{local}", (local, remote)
            assert local in image["only"]


def test_build_context_lists_every_workspace_member(tilt):
    members = sorted(
        str(p.parent.relative_to(REPO))
        for p in REPO.glob("*/*/pyproject.toml")
        if p.parent.parent.name in ("libs", "services", "tools")
    )
    for image in tilt.images().values():
        assert (
            sorted(p.removesuffix("/pyproject.toml") for p in image["only"] if p.endswith("/pyproject.toml"))
            == members
        )


def test_resources_exist_in_the_chart(tilt, dev_docs):
    resources = tilt.resources()
    names = set(workloads(dev_docs)) | {d["metadata"]["name"] for d in dev_docs if d["kind"] == "Job"}
    assert set(resources) <= names, set(resources) - names
    assert names <= set(resources), f"chart workloads without a Tilt resource: {names - set(resources)}"
    for name, kwargs in resources.items():
        assert kwargs.get("labels"), name
        assert set(kwargs.get("resource_deps", [])) <= names, name


def test_services_wait_for_nats_postgres_and_migrations(tilt):
    resources = tilt.resources()
    for name, kwargs in resources.items():
        if name in ("rtk-nats", "rtk-postgres"):
            continue
        assert "rtk-nats" in kwargs["resource_deps"] or name.endswith("-migrate"), name
    for svc in TABLE_OWNERS:
        assert f"rtk-{svc}-migrate" in resources[f"rtk-{svc}"]["resource_deps"]
        assert "rtk-postgres" in resources[f"rtk-{svc}-migrate"]["resource_deps"]


def test_gateway_is_port_forwarded(tilt):
    assert tilt.resources()["rtk-gateway"]["port_forwards"] == ["8080:8080"]
