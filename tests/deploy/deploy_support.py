"""Helpers shared by the deployment tests (a uniquely named module: several test directories have a
conftest.py): paths, value scenarios, deploy/k8s/render.py, object lookups and Kubernetes schema
validation. The fixtures are in conftest.py."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "k8s" / "helm" / "realtimekit"
SERVICES = ("gateway", "meeting", "auth", "orchestrator", "sfu", "recording")
TABLE_OWNERS = ("meeting", "auth", "orchestrator", "recording")
KUBE_VERSION = "1.30"
RELEASE = "rtk"

# Value sets every chart test runs against: values files (relative to the chart) and --set pairs.
SCENARIOS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "default": ((), {}),
    "dev": (("values-dev.yaml",), {}),
    "multi-region": (("values-multi-region.yaml",), {}),
    "external": (
        (),
        {
            "postgres.mode": "external",
            "postgres.external.url": "postgresql://rtk:pw@db.example.com:5432/realtime",
            "nats.enabled": "false",
            "nats.url": "nats://nats.example.com:4222",
        },
    ),
    "existing-secret": (
        (),
        {"postgres.mode": "external", "nats.enabled": "false", "secrets.existingSecret": "rtk-credentials"},
    ),
}


def load_render_module() -> ModuleType:
    """deploy/k8s/render.py (not a package), imported under a unique name."""
    name = "rtk_k8s_render"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "deploy" / "k8s" / "render.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


render_module = load_render_module()


def objects(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet")}


def service_workloads(docs: list[dict]) -> dict[str, dict]:
    """The Deployments/StatefulSets that run one of our services (not NATS or Postgres)."""
    return {
        name: d
        for name, d in workloads(docs).items()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] in SERVICES
    }


def pod_owners(docs: list[dict]) -> dict[str, dict]:
    """Every object with a pod template (workloads and Jobs), by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")}


def pod_specs(docs: list[dict]) -> dict[str, dict]:
    """Pod specs of every workload and Job, by object name."""
    return {name: d["spec"]["template"]["spec"] for name, d in pod_owners(docs).items()}


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def validate_k8s(obj: dict) -> str | None:
    """None when obj is valid against the strict Kubernetes 1.30 schema, else the error."""
    import kubernetes_validate.utils as kv

    if not hasattr(kv.schema_contents, "cache_info"):
        # validate() re-reads the (large) schema files for every object: read each once.
        kv.schema_contents = cache(kv.schema_contents)
    try:
        kv.validate(obj, KUBE_VERSION, strict=True)
    except kv.ValidationError as exc:
        return f"{'/'.join(map(str, exc.absolute_path))}: {exc.message}"
    return None
