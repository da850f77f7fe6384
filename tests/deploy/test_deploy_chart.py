"""The Helm chart: renders for every scenario, validates against Kubernetes 1.30, and has the
properties the platform relies on (probes, security, config, SFU pools, migrations)."""

from __future__ import annotations

import base64
import re

import pytest
import yaml
from deploy_support import (
    CHART,
    RELEASE,
    SERVICES,
    TABLE_OWNERS,
    env_of,
    objects,
    pod_owners,
    pod_specs,
    service_workloads,
    validate_k8s,
    workloads,
)

CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
RECOMMENDED_LABELS = {
    "app.kubernetes.io/name": "realtimekit",
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/version": CHART_META["appVersion"],
    "app.kubernetes.io/part-of": "realtime",
    "app.kubernetes.io/managed-by": "Helm",
    "helm.sh/chart": f"realtimekit-{CHART_META['version']}",
}
DEPLOYMENT_SERVICES = [s for s in SERVICES if s != "sfu"]


def main_container(pod_spec: dict) -> dict:
    return pod_spec["containers"][0]


def component(obj: dict) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


# -- every scenario -----------------------------------------------------------------------------


def test_every_object_validates_against_kubernetes_schemas(scenario):
    name, docs = scenario
    assert docs, f"{name}: nothing rendered"
    errors = {}
    for obj in docs:
        if obj["apiVersion"] == "postgresql.cnpg.io/v1":
            continue  # a CRD: checked structurally in test_cloudnativepg_cluster
        if error := validate_k8s(obj):
            errors[f"{obj['kind']}/{obj['metadata']['name']}"] = error
    assert not errors, f"{name}: {errors}"


def test_names_are_unique_and_valid(scenario):
    _, docs = scenario
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys))
    for _, obj_name in keys:
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", obj_name), obj_name


def test_recommended_labels_on_objects_and_pods(scenario):
    _, docs = scenario
    for obj in docs:
        labels = obj["metadata"]["labels"]
        assert RECOMMENDED_LABELS.items() <= labels.items(), obj["metadata"]["name"]
        assert labels["app.kubernetes.io/component"]
        if "template" in obj.get("spec", {}):
            pod_labels = obj["spec"]["template"]["metadata"]["labels"]
            assert RECOMMENDED_LABELS.items() <= pod_labels.items()
            assert pod_labels["app.kubernetes.io/component"] == labels["app.kubernetes.io/component"]
            if "selector" in obj["spec"]:
                assert obj["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_selectors_match_pods(scenario):
    """Every Service and PodDisruptionBudget selects pods; every HPA targets a Deployment."""
    _, docs = scenario
    pod_labels = [
        d["spec"]["template"]["metadata"]["labels"]
        for d in docs
        if d["kind"] in ("Deployment", "StatefulSet")
    ]
    for kind, path in (
        ("Service", ("spec", "selector")),
        ("PodDisruptionBudget", ("spec", "selector", "matchLabels")),
    ):
        for obj in objects(docs, kind).values():
            selector = obj
            for key in path:
                selector = selector[key]
            assert any(selector.items() <= labels.items() for labels in pod_labels), obj["metadata"]["name"]
    for hpa in objects(docs, "HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in objects(docs, "Deployment")
    budgets = [p["spec"]["selector"]["matchLabels"] for p in objects(docs, "PodDisruptionBudget").values()]
    for name, workload in service_workloads(docs).items():
        if scenario[0] != "dev":
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert any(b.items() <= labels.items() for b in budgets), f"{name} has no PodDisruptionBudget"


def test_grpc_probes_on_grpc_health(scenario):
    _, docs = scenario
    for name, workload in service_workloads(docs).items():
        container = main_container(workload["spec"]["template"]["spec"])
        grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        assert container["readinessProbe"]["grpc"] == {"port": grpc_port, "service": ""}, name
        assert container["livenessProbe"]["grpc"] == {"port": grpc_port, "service": "liveness"}, name
        assert container["startupProbe"]["grpc"]["port"] == grpc_port, name


def test_pods_are_hardened(scenario):
    name, docs = scenario
    for obj_name, obj in pod_owners(docs).items():
        spec = obj["spec"]["template"]["spec"]
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, obj_name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, obj_name
        assert spec["automountServiceAccountToken"] is False, obj_name
        # values-dev.yaml lets Tilt live-update the service containers.
        live_updated = name == "dev" and component(obj) not in ("nats", "postgres")
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, obj_name
            assert sc["capabilities"]["drop"] == ["ALL"], obj_name
            assert sc.get("privileged", False) is False, obj_name
            assert sc["readOnlyRootFilesystem"] is not live_updated, obj_name
            assert "memory" in container["resources"]["limits"], obj_name
            assert container["resources"]["requests"], obj_name


def test_writable_tmp_is_an_empty_dir(scenario):
    _, docs = scenario
    for obj_name, spec in pod_specs(docs).items():
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            if container["securityContext"]["readOnlyRootFilesystem"] and container["name"] != "nats":
                assert "emptyDir" in volumes[mounts["/tmp"]], obj_name


def test_service_containers_set_args_not_command(scenario):
    """Only args: the image entrypoint stays replaceable (Tilt's restart wrapper)."""
    _, docs = scenario
    for obj_name, obj in pod_owners(docs).items():
        if component(obj) in ("nats", "postgres"):
            continue
        container = main_container(obj["spec"]["template"]["spec"])
        assert "command" not in container, obj_name
        assert container["args"] in (["serve"], ["migrate"]), obj_name


def test_otel_service_name_comes_from_the_component_label(scenario):
    _, docs = scenario
    for obj_name, obj in pod_owners(docs).items():
        if component(obj) in ("nats", "postgres"):
            continue
        env = env_of(main_container(obj["spec"]["template"]["spec"]))
        assert env["OTEL_SERVICE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.labels['app.kubernetes.io/component']"
        ), obj_name


def test_pods_roll_on_config_change(scenario):
    _, docs = scenario
    for name, workload in service_workloads(docs).items():
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/config"]), name
        assert re.fullmatch(r"[0-9a-f]{64}", annotations["checksum/secret"]), name


def test_no_plaintext_credentials_outside_secrets(scenario):
    _, docs = scenario
    for cm in objects(docs, "ConfigMap").values():
        for key, value in cm["data"].items():
            assert not re.search(r"PASSWORD|TOKEN|SECRET|ENCRYPTION_KEY|DATABASE_URL", key), key
            assert "@" not in value, (key, value)
    for obj_name, spec in pod_specs(docs).items():
        for container in spec["containers"]:
            for var in container.get("env", []):
                if re.search(r"PASSWORD|TOKEN|ENCRYPTION_KEY|DATABASE_URL|NATS_URL", var["name"]):
                    assert "secretKeyRef" in var.get("valueFrom", {}), (obj_name, var["name"])


# -- services -----------------------------------------------------------------------------------


def test_one_object_set_per_service(render):
    docs = render()
    for svc in DEPLOYMENT_SERVICES:
        full = f"{RELEASE}-{svc}"
        for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "ConfigMap"):
            assert full in objects(docs, kind), (kind, full)
        spec = objects(docs, "Deployment")[full]["spec"]["template"]["spec"]
        assert spec["serviceAccountName"] == full
        assert main_container(spec)["image"] == f"realtime-{svc}:{CHART_META['appVersion']}"
    assert f"{RELEASE}-sfu" in objects(docs, "ServiceAccount")
    assert f"{RELEASE}-sfu" in objects(docs, "ConfigMap")
    assert f"{RELEASE}-sfu" in objects(docs, "Service")
    assert f"{RELEASE}-sfu" not in objects(docs, "Deployment")
    assert not objects(docs, "HorizontalPodAutoscaler")


def test_ports_are_named_and_match_the_config(render):
    docs = render()
    configmaps = objects(docs, "ConfigMap")
    for svc in SERVICES:
        service_ports = {
            p["name"]: p["port"] for p in objects(docs, "Service")[f"{RELEASE}-{svc}"]["spec"]["ports"]
        }
        expected = {"grpc": 50051, "metrics": 9090} | ({"http": 8080} if svc == "gateway" else {})
        assert service_ports == expected, svc
        data = configmaps[f"{RELEASE}-{svc}"]["data"]
        assert data["RTK_GRPC_PORT"] == "50051"
        assert data["RTK_METRICS_PORT"] == "9090"
        assert ("RTK_HTTP_PORT" in data) == (svc == "gateway")
        assert data["RTK_SERVICE_NAME"] == svc


def test_configmap_has_peer_addresses(render):
    for svc in SERVICES:
        data = objects(render(), "ConfigMap")[f"{RELEASE}-{svc}"]["data"]
        for peer in SERVICES:
            assert data[f"RTK_{peer.upper()}_ADDR"] == f"{RELEASE}-{peer}:50051"
        assert data["RTK_LOG_FORMAT"] == "json"
        assert data["RTK_AUTO_MIGRATE"] == ("false" if svc in TABLE_OWNERS else "true")
        assert all(isinstance(v, str) for v in data.values())


def test_services_get_only_the_secrets_they_need(render):
    specs = pod_specs(render())
    for svc in SERVICES:
        name = f"{RELEASE}-{svc}" if svc != "sfu" else f"{RELEASE}-sfu-default"
        env = env_of(main_container(specs[name]))
        assert env["RTK_NATS_URL"]["valueFrom"]["secretKeyRef"] == {
            "name": f"{RELEASE}-secrets",
            "key": "RTK_NATS_URL",
        }
        assert env["RTK_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == f"{RELEASE}-secrets"
        assert ("RTK_DATABASE_URL" in env) == (svc in TABLE_OWNERS), svc
        assert ("RTK_AUTH_KEY_ENCRYPTION_KEY" in env) == (svc == "auth"), svc


def test_generated_secrets(render):
    docs = render()
    secret = objects(docs, "Secret")[f"{RELEASE}-secrets"]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert set(data) == {"RTK_INTERNAL_TOKEN", "RTK_AUTH_KEY_ENCRYPTION_KEY", "RTK_NATS_URL"}
    assert len(data["RTK_INTERNAL_TOKEN"]) >= 32
    assert len(base64.urlsafe_b64decode(data["RTK_AUTH_KEY_ENCRYPTION_KEY"])) == 32  # a Fernet key
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", data["RTK_AUTH_KEY_ENCRYPTION_KEY"])
    assert data["RTK_NATS_URL"] == f"nats://{RELEASE}-nats:4222"
    pg = {
        k: base64.b64decode(v).decode()
        for k, v in objects(docs, "Secret")[f"{RELEASE}-postgres"]["data"].items()
    }
    assert pg["uri"] == f"postgresql://realtime:{pg['password']}@{RELEASE}-postgres:5432/realtime"


def test_given_secrets_are_used(render):
    docs = render(set_values={"secrets.internalToken": "tok", "secrets.authKeyEncryptionKey": "key"})
    data = objects(docs, "Secret")[f"{RELEASE}-secrets"]["data"]
    assert base64.b64decode(data["RTK_INTERNAL_TOKEN"]) == b"tok"
    assert base64.b64decode(data["RTK_AUTH_KEY_ENCRYPTION_KEY"]) == b"key"


def test_existing_secret(render):
    docs = render(
        set_values={"secrets.existingSecret": "creds", "postgres.mode": "external", "nats.enabled": "false"}
    )
    assert not objects(docs, "Secret"), "no Secret of the chart's own with an existing one"
    env = env_of(main_container(pod_specs(docs)[f"{RELEASE}-meeting"]))
    assert env["RTK_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "creds",
        "key": "RTK_DATABASE_URL",
    }
    assert env["RTK_INTERNAL_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "creds"
    job_env = env_of(main_container(pod_specs(docs)[f"{RELEASE}-meeting-migrate"]))
    assert job_env["RTK_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "creds",
        "key": "RTK_DATABASE_URL",
    }


def test_checksum_follows_the_services_own_config(render):
    def checksums(set_values):
        return {
            name: w["spec"]["template"]["metadata"]["annotations"]
            for name, w in service_workloads(render(set_values=set_values)).items()
        }

    base = checksums({})
    one = checksums({"services.gateway.env.RTK_MAX_BODY_BYTES": "2048"})
    assert one[f"{RELEASE}-gateway"]["checksum/config"] != base[f"{RELEASE}-gateway"]["checksum/config"]
    assert all(one[n] == base[n] for n in base if n != f"{RELEASE}-gateway")
    everyone = checksums({"config.RTK_LOG_LEVEL": "debug"})
    assert all(everyone[n]["checksum/config"] != base[n]["checksum/config"] for n in base)
    secret = checksums({"secrets.internalToken": "rotated"})
    assert all(secret[n]["checksum/secret"] != base[n]["checksum/secret"] for n in base)
    assert checksums({}) == base  # deterministic


def test_boolean_overrides_and_disabled_services(render):
    docs = render(
        set_values={
            "services.meeting.podDisruptionBudget.enabled": "false",
            "services.recording.enabled": "false",
        }
    )
    pdbs = objects(docs, "PodDisruptionBudget")
    assert f"{RELEASE}-meeting" not in pdbs and f"{RELEASE}-auth" in pdbs
    assert not [d for d in docs if "recording" in d["metadata"]["name"]]
    assert "RTK_RECORDING_ADDR" not in objects(docs, "ConfigMap")[f"{RELEASE}-gateway"]["data"]


def test_merge_escape_hatch(render):
    docs = render(
        set_values={
            "services.gateway.merge.deployment.spec.template.spec.hostAliases[0].ip": "10.0.0.1",
            "services.gateway.merge.deployment.spec.template.spec.hostAliases[0].hostnames[0]": "x",
        }
    )
    gateway = objects(docs, "Deployment")[f"{RELEASE}-gateway"]
    assert gateway["spec"]["template"]["spec"]["hostAliases"] == [{"ip": "10.0.0.1", "hostnames": ["x"]}]
    assert main_container(gateway["spec"]["template"]["spec"])["readinessProbe"]  # the rest is kept
    assert validate_k8s(gateway) is None
    assert "hostAliases" not in objects(docs, "Deployment")[f"{RELEASE}-meeting"]["spec"]["template"]["spec"]


def test_autoscaling(render):
    docs = render(["values-multi-region.yaml"])
    hpas = objects(docs, "HorizontalPodAutoscaler")
    assert set(hpas) == {f"{RELEASE}-gateway", f"{RELEASE}-orchestrator"}
    for name, hpa in hpas.items():
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert "replicas" not in objects(docs, "Deployment")[name]["spec"]
    assert objects(docs, "Deployment")[f"{RELEASE}-meeting"]["spec"]["replicas"] == 3


def test_ingress_for_the_gateway(render):
    docs = render(["values-multi-region.yaml"])
    ingress = objects(docs, "Ingress")[f"{RELEASE}-gateway"]
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": f"{RELEASE}-gateway", "port": {"name": "http"}}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert "nginx.ingress.kubernetes.io/proxy-read-timeout" in ingress["metadata"]["annotations"]
    assert not objects(render(), "Ingress")


def test_image_registry_prefix(render):
    spec = pod_specs(render(["values-multi-region.yaml"]))[f"{RELEASE}-auth"]
    assert main_container(spec)["image"] == f"ghcr.io/example/realtime-auth:{CHART_META['appVersion']}"


# -- SFU ----------------------------------------------------------------------------------------


def test_sfu_pool_per_region(render):
    docs = render(["values-multi-region.yaml"])
    pools = yaml.safe_load((CHART / "values-multi-region.yaml").read_text())["sfu"]["pools"]
    sets = objects(docs, "StatefulSet")
    pdbs = objects(docs, "PodDisruptionBudget")
    headless = objects(docs, "Service")
    for pool in pools:
        name = f"{RELEASE}-sfu-{pool['name']}"
        sts = sets[name]
        assert sts["spec"]["replicas"] == pool["replicas"]
        assert sts["spec"]["serviceName"] == name and headless[name]["spec"]["clusterIP"] == "None"
        assert pdbs[name]["spec"]["selector"]["matchLabels"]["realtimekit/sfu-pool"] == pool["name"]
        spec = sts["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == pool["nodeSelector"]
        assert spec["tolerations"][0]["key"] == "realtimekit/media"
        env = env_of(main_container(spec))
        values = {k: v.get("value") for k, v in env.items()}
        assert values["RTK_SFU_REGION"] == pool["region"]
        assert float(values["RTK_SFU_LATITUDE"]) == pool["latitude"]
        assert float(values["RTK_SFU_LONGITUDE"]) == pool["longitude"]
        assert values["RTK_SFU_CAPACITY_PEERS"] == str(pool.get("capacityPeers", 150))
        assert (values["RTK_SFU_UDP_PORT_MIN"], values["RTK_SFU_UDP_PORT_MAX"]) == ("40000", "40199")
        assert env["RTK_SFU_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert env["RTK_SFU_ANNOUNCED_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.hostIP"
        # Bind and advertise the pod's own address ($(POD_IP) is expanded by the kubelet).
        names = list(env)
        assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
        assert names.index("POD_IP") < names.index("RTK_SFU_ICE_ADDRESSES")
        assert values["RTK_SFU_ICE_ADDRESSES"] == "$(POD_IP)"
        assert values["RTK_SFU_ADVERTISED_ADDRESS"] == "$(POD_IP):50051"
        assert 0 < int(values["RTK_SFU_MAX_DRAIN_SECONDS"]) < spec["terminationGracePeriodSeconds"]
    assert len([s for s in sets if s.startswith(f"{RELEASE}-sfu-")]) == len(pools)


def test_sfu_media_ports_host_network_and_drain(render):
    sts = objects(render(), "StatefulSet")[f"{RELEASE}-sfu-default"]
    spec = sts["spec"]["template"]["spec"]
    container = main_container(spec)
    udp = [p for p in container["ports"] if p["protocol"] == "UDP"]
    assert [p["containerPort"] for p in udp] == list(range(40000, 40100))
    assert all(p["name"] == f"rtc-udp-{p['containerPort']}" and len(p["name"]) <= 15 for p in udp)
    assert spec["hostNetwork"] is True and spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert spec["terminationGracePeriodSeconds"] == 3600
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["python", "-m", "rtk_sfu", "drain"]
    anti = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert anti["topologyKey"] == "kubernetes.io/hostname"
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert container["resources"]["requests"]["cpu"] == "1"
    env = env_of(container)
    assert "RTK_SFU_LATITUDE" not in env and "RTK_SFU_LONGITUDE" not in env  # the gateway's region table
    assert env["RTK_SFU_MAX_DRAIN_SECONDS"]["value"] == "3540"


def test_sfu_host_port_and_static_address(render):
    spec = objects(render(["values-dev.yaml"]), "StatefulSet")[f"{RELEASE}-sfu-local"]["spec"]["template"][
        "spec"
    ]
    container = main_container(spec)
    udp = [p for p in container["ports"] if p["protocol"] == "UDP"]
    assert udp and all(p["hostPort"] == p["containerPort"] for p in udp)
    assert "hostNetwork" not in spec
    assert env_of(container)["RTK_SFU_ANNOUNCED_IP"] == {"name": "RTK_SFU_ANNOUNCED_IP", "value": "127.0.0.1"}
    assert spec["terminationGracePeriodSeconds"] == 30


def test_sfu_pod_network_mode(render):
    docs = render(
        set_values={
            "sfu.hostNetwork": "false",
            "sfu.hostPort": "false",
            "sfu.terminationGracePeriodSeconds": "600",
            "sfu.preStop": "null",
        }
    )
    spec = objects(docs, "StatefulSet")[f"{RELEASE}-sfu-default"]["spec"]["template"]["spec"]
    container = main_container(spec)
    assert all("hostPort" not in p for p in container["ports"])
    assert env_of(container)["RTK_SFU_ANNOUNCED_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert "podAntiAffinity" not in spec.get("affinity", {})
    assert spec["terminationGracePeriodSeconds"] == 600
    assert "lifecycle" not in container  # SIGTERM alone drains


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"postgres": {"mode": "external"}}, "postgres.external.url is required"),
        ({"nats": {"enabled": False}}, "nats.url is required"),
        (
            {"sfu": {"pools": [{"name": "eu", "region": "eu"}, {"name": "eu", "region": "x"}]}},
            "duplicate pool name",
        ),
        ({"sfu": {"udpPortMin": 50000, "udpPortMax": 40000}}, "udpPortMin <= udpPortMax"),
        ({"sfu": {"udpPortMin": 10000, "udpPortMax": 20000}}, "at most 1000 UDP ports"),
        ({"postgres": {"mode": "sqlite"}}, "postgres"),
        ({"sfu": {"pools": [{"name": "EU", "region": "eu"}]}}, "name"),
        ({"sfu": {"pools": [{"name": "eu", "region": "eu", "latitude": 50.1}]}}, "latitude and longitude"),
    ],
)
def test_invalid_values_are_rejected(renderer, tmp_path, values, message):
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    with pytest.raises(RuntimeError, match=message):
        renderer.template(RELEASE, CHART, values=[path])


# -- dependencies and migrations ---------------------------------------------------------------


def test_in_cluster_nats_with_jetstream(render):
    docs = render()
    nats = objects(docs, "StatefulSet")[f"{RELEASE}-nats"]
    container = main_container(nats["spec"]["template"]["spec"])
    assert "-js" in container["args"]
    assert nats["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert f"{RELEASE}-nats" in objects(docs, "Service")
    assert f"{RELEASE}-nats" not in workloads(render(["values-multi-region.yaml"]))


def test_database_url_source_per_postgres_mode(render):
    cases = {
        (): (f"{RELEASE}-postgres", "uri"),
        ("values-multi-region.yaml",): (f"{RELEASE}-postgres-app", "uri"),
    }
    for values, (secret, key) in cases.items():
        env = env_of(main_container(pod_specs(render(values))[f"{RELEASE}-orchestrator"]))
        assert env["RTK_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}
    docs = render(set_values={"postgres.mode": "external", "postgres.external.url": "postgresql://u:p@db/x"})
    env = env_of(main_container(pod_specs(docs)[f"{RELEASE}-orchestrator"]))
    assert env["RTK_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-secrets",
        "key": "RTK_DATABASE_URL",
    }
    assert (
        base64.b64decode(objects(docs, "Secret")[f"{RELEASE}-secrets"]["data"]["RTK_DATABASE_URL"])
        == b"postgresql://u:p@db/x"
    )
    assert not [d for d in docs if component(d) == "postgres"]


def test_dev_postgres_statefulset(render):
    sts = objects(render(), "StatefulSet")[f"{RELEASE}-postgres"]
    container = main_container(sts["spec"]["template"]["spec"])
    env = env_of(container)
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-postgres",
        "key": "password",
    }
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert sts["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 999


def test_cloudnativepg_cluster(render):
    docs = render(["values-multi-region.yaml"])
    (cluster,) = [d for d in docs if d["kind"] == "Cluster"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["metadata"]["name"] == f"{RELEASE}-postgres"
    spec = cluster["spec"]
    assert isinstance(spec["instances"], int) and spec["instances"] == 3
    assert spec["bootstrap"]["initdb"] == {"database": "realtime", "owner": "realtime"}
    assert re.fullmatch(r"\d+[GMT]i", spec["storage"]["size"])
    assert f"{RELEASE}-postgres" not in workloads(docs)


def _hooks(obj: dict) -> dict:
    return obj["metadata"].get("annotations", {})


@pytest.mark.parametrize(
    ("set_values", "hooks"),
    [
        ({}, "post-install,pre-upgrade"),  # the release creates the database
        (
            {"postgres.mode": "external", "postgres.external.url": "postgresql://u:p@db/x"},
            "pre-install,pre-upgrade",
        ),
    ],
)
def test_migration_jobs_are_hooks(render, set_values, hooks):
    docs = render(set_values=set_values)
    jobs = objects(docs, "Job")
    assert set(jobs) == {f"{RELEASE}-{svc}-migrate" for svc in TABLE_OWNERS}
    for svc in TABLE_OWNERS:
        job = jobs[f"{RELEASE}-{svc}-migrate"]
        annotations = _hooks(job)
        assert annotations["helm.sh/hook"] == hooks
        assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
        assert int(annotations["helm.sh/hook-weight"]) == 0
        spec = job["spec"]["template"]["spec"]
        container = main_container(spec)
        assert container["args"] == ["migrate"]
        assert container["image"] == main_container(pod_specs(docs)[f"{RELEASE}-{svc}"])["image"]
        assert "envFrom" not in container  # runs before the release's ConfigMaps exist
        assert "serviceAccountName" not in spec
        assert spec["restartPolicy"] == "Never"
        assert env_of(container)["RTK_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
    secrets = {n: s for n, s in objects(docs, "Secret").items() if "helm.sh/hook" in _hooks(s)}
    if hooks.startswith("pre-install"):
        (secret,) = secrets.values()  # the DSN, created before the Jobs
        assert int(_hooks(secret)["helm.sh/hook-weight"]) < 0
        assert _hooks(secret)["helm.sh/hook"] == hooks
        ref = env_of(main_container(pod_specs(docs)[f"{RELEASE}-auth-migrate"]))["RTK_DATABASE_URL"]
        assert ref["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    else:
        assert not secrets


def test_migrations_can_be_left_to_the_services(render):
    docs = render(set_values={"migrations.enabled": "false"})
    assert not objects(docs, "Job")
    assert objects(docs, "ConfigMap")[f"{RELEASE}-meeting"]["data"]["RTK_AUTO_MIGRATE"] == "true"
