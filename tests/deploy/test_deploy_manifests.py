"""deploy/k8s/manifests: the chart rendered with default values for `kubectl apply -k`."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest
import yaml
from deploy_support import REPO, render_module, validate_k8s

MANIFESTS = REPO / "deploy" / "k8s" / "manifests"
CREATE_SECRETS = MANIFESTS / "create-secrets.sh"


@pytest.fixture(scope="module")
def fresh(renderer, tmp_path_factory):
    out = tmp_path_factory.mktemp("manifests")
    render_module.build_manifests(renderer, out)
    return out


def test_checked_in_manifests_match_the_chart(fresh):
    expected = render_module.generated_files(fresh)
    actual = render_module.generated_files(MANIFESTS)
    assert actual == expected, (
        "deploy/k8s/manifests has other files than the chart renders: run `make manifests`"
    )
    stale = [n for n in sorted(expected) if (fresh / n).read_text() != (MANIFESTS / n).read_text()]
    assert not stale, f"deploy/k8s/manifests drifted from the chart in {stale}: run `make manifests`"


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == render_module.MANIFEST_NAMESPACE
    files = render_module.generated_files(MANIFESTS) - {"kustomization.yaml"}
    assert sorted(kustomization["resources"]) == sorted(files)


def _manifest_objects() -> list[dict]:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    objs = []
    for name in kustomization["resources"]:
        docs = [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
        assert len(docs) == 1, name
        objs.append(docs[0])
    return objs


def test_manifests_are_valid_and_hold_no_secrets():
    objs = _manifest_objects()
    for obj in objs:
        assert validate_k8s(obj) is None, obj["metadata"]["name"]
        assert obj["kind"] != "Secret"


def _script_secrets() -> dict[str, set[str]]:
    """Secret name -> keys that create-secrets.sh creates."""
    text = CREATE_SECRETS.read_text()
    prefix = re.search(r"^PREFIX=(\S+)", text, re.MULTILINE)[1]
    secrets = {}
    for block in re.findall(r'create secret generic "\$PREFIX-([\w-]+)"(.*?)\n\s*fi', text, re.DOTALL):
        suffix, body = block
        secrets[f"{prefix}-{suffix}"] = set(re.findall(r"--from-literal=(\w+)=", body))
    return secrets


def test_create_secrets_matches_the_chart(renderer):
    rendered = renderer.template(render_module.MANIFEST_RELEASE, namespace=render_module.MANIFEST_NAMESPACE)
    chart_secrets = {
        d.obj["metadata"]["name"]: set(d.obj["data"])
        for d in render_module.split_documents(rendered)
        if d.obj["kind"] == "Secret"
    }
    assert _script_secrets() == chart_secrets
    # and every secret the manifests reference is one of them, with the key
    for obj in _manifest_objects():
        if "template" not in obj.get("spec", {}):
            continue
        for container in obj["spec"]["template"]["spec"]["containers"]:
            for var in container.get("env", []):
                if ref := var.get("valueFrom", {}).get("secretKeyRef"):
                    assert ref["key"] in chart_secrets[ref["name"]], (obj["metadata"]["name"], ref)


def test_create_secrets_generates_a_valid_dsn_and_key():
    text = CREATE_SECRETS.read_text()
    assert 'uri="postgresql://$PG_USER:$password@$PREFIX-postgres:5432/$PG_DB"' in text
    subprocess.run(["sh", "-n", str(CREATE_SECRETS)], check=True)
    fernet = subprocess.run(
        ["sh", "-c", re.search(r"fernet_key\(\) \{.*?\n(.*?)\n\}", text, re.DOTALL)[1]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert len(base64.urlsafe_b64decode(fernet)) == 32


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_kubectl_kustomize_builds():
    out = subprocess.run(["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert len(docs) == len(_manifest_objects())
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == render_module.MANIFEST_NAMESPACE
