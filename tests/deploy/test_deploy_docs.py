"""docs/deploy.md documents every value of the chart and the commands it tells people to run."""

from __future__ import annotations

import re

import yaml
from deploy_support import CHART, REPO

DOC = (REPO / "docs" / "deploy.md").read_text()


def documented_keys() -> set[str]:
    table = [line for line in DOC.splitlines() if line.startswith("| `")]
    return {key for line in table for key in re.findall(r"`([a-zA-Z][\w.<>\[\]]*)`", line.split("|")[1])}


def test_values_table_covers_every_key():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    documented = documented_keys()
    expected = set()
    for key, value in values.items():
        if key == "services":
            expected.add("services.<name>")
        elif isinstance(value, dict) and key != "config":
            expected |= {f"{key}.{sub}" for sub in value}
        else:
            expected.add(key)
    missing = sorted(k for k in expected if k not in documented)
    assert not missing, f"docs/deploy.md values table lacks {missing}"


def test_documented_paths_exist():
    for path in (
        "deploy/k8s/helm/realtimekit",
        "deploy/k8s/manifests",
        "deploy/k8s/manifests/create-secrets.sh",
        "deploy/k8s/helm/realtimekit/values-dev.yaml",
        "deploy/k8s/helm/realtimekit/values-multi-region.yaml",
        "Tiltfile",
        "deploy/k8s/render.py",
    ):
        assert path in DOC and (REPO / path).exists(), path


def test_documents_install_commands_and_webrtc_networking():
    for text in (
        "helm install",
        "kubectl apply -k deploy/k8s/manifests",
        "tilt up",
        "make images",
        "make manifests",
        "hostNetwork",
        "RTK_SFU_ANNOUNCED_IP",
        "TURN",
        "status.hostIP",
    ):
        assert text in DOC, text
