"""How the chart gets rendered: real helm 3 when there is one, else the offline helm-render
(deploy/k8s/render.py). Both code paths are covered: discovery with fake binaries, and the two real
renderers compared when both are at hand without a download or a build from scratch."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from deploy_support import CHART, render_module

FIXED_SECRETS = {
    "secrets.internalToken": "t0ken",
    "secrets.authKeyEncryptionKey": "cmVhbHRpbWVraXQtZGV2LWtleS1ub3Qtc2VjcmV0ISE=",
    "postgres.statefulset.password": "pw",
}


def fake_binary(path: Path, version_output: str = "v3.17.1+gdeadbee", marker: Path | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    touch = f'touch "{marker}"\n' if marker else ""
    path.write_text(f'#!/bin/sh\n{touch}[ "$1" = version ] && echo "{version_output}"\nexit 0\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def shared(tmp_path) -> Path:
    """A fake shared/tools: get-helm (prints a fake helm) and helm-render/helm-render."""
    tools = tmp_path / "shared" / "tools"
    fake_binary(tools / "helm-render" / "helm-render")
    helm = fake_binary(tmp_path / "cache" / "helm")
    (tools / "get-helm").write_text(f'#!/bin/sh\ntouch "{tmp_path}/get-helm-ran"\necho "{helm}"\n')
    return tools


def test_explicit_renderer_wins(shared, tmp_path):
    env = {"RTK_HELM": "/opt/x/helm-render", "PATH": str(tmp_path)}
    assert render_module.find_renderer(env, shared) == render_module.Renderer(
        "helm-render", "/opt/x/helm-render"
    )
    assert render_module.find_renderer({"RTK_HELM": "/usr/bin/helm"}, shared).kind == "helm"


def test_helm_on_path_first(shared, tmp_path):
    helm = fake_binary(tmp_path / "bin" / "helm")
    renderer = render_module.find_renderer({"PATH": str(helm.parent)}, shared)
    assert renderer == render_module.Renderer("helm", str(helm))
    assert not (tmp_path / "get-helm-ran").exists(), "no install when helm is on PATH"


def test_helm_2_on_path_is_skipped(shared, tmp_path):
    fake_binary(tmp_path / "bin" / "helm", version_output="Client: v2.17.0")
    renderer = render_module.find_renderer({"PATH": str(tmp_path / "bin")}, shared)
    assert renderer == render_module.Renderer("helm", str(tmp_path / "cache" / "helm"))  # from get-helm


def test_get_helm_then_helm_render(shared, tmp_path):
    renderer = render_module.find_renderer({"PATH": str(tmp_path / "empty")}, shared)
    assert renderer.kind == "helm" and (tmp_path / "get-helm-ran").exists()
    (shared / "get-helm").write_text("#!/bin/sh\necho 'no network' >&2\nexit 1\n")
    renderer = render_module.find_renderer({"PATH": str(tmp_path / "empty")}, shared)
    assert renderer == render_module.Renderer("helm-render", str(shared / "helm-render" / "helm-render"))


def test_nothing_found(tmp_path):
    with pytest.raises(render_module.RendererNotFound):
        render_module.find_renderer({"PATH": str(tmp_path)}, tmp_path / "none")


def _real_helm(renderer) -> render_module.Renderer | None:
    if renderer.kind == "helm":
        return renderer
    env = {k: v for k, v in os.environ.items() if k != "RTK_HELM"}
    cached = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "get-helm" / "bin" / "helm"
    if shutil.which("helm", path=env.get("PATH", "")) or cached.is_file():
        found = render_module.find_renderer(env)
        return found if found.kind == "helm" else None
    return None


def _cheap_helm_render(renderer) -> render_module.Renderer | None:
    if renderer.kind == "helm-render":
        return renderer
    stand_in = render_module.helm_render()
    if stand_in is None:
        return None
    source = Path(stand_in.path).with_name("main.go")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "helm-render" / "helm-render"
    built = cache.is_file() and (not source.exists() or cache.stat().st_mtime >= source.stat().st_mtime)
    toolchain = shutil.which("go") and Path("/usr/share/gocode/src/github.com/Masterminds/sprig").is_dir()
    return stand_in if built or toolchain else None


@pytest.mark.parametrize("values", [(), ("values-dev.yaml",), ("values-multi-region.yaml",)])
def test_helm_and_helm_render_agree(renderer, values):
    helm, stand_in = _real_helm(renderer), _cheap_helm_render(renderer)
    if helm is None or stand_in is None:
        pytest.skip("needs both a real helm and an already built (or quickly buildable) helm-render")
    outputs = [
        r.template("rtk", CHART, values=[CHART / v for v in values], set_values=FIXED_SECRETS)
        for r in (helm, stand_in)
    ]
    assert outputs[0] == outputs[1]
