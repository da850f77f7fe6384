"""The whole stack on one machine, each service its own process (as in Kubernetes).

Used by `rtk run` (`make run`) and by the end-to-end tests. With no configuration it starts an
embedded Postgres and NATS with JetStream under the data directory; `RTK_DATABASE_URL` and
`RTK_NATS_URL` point it at real servers instead.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from rtk_cli.embedded import EmbeddedNats, EmbeddedPostgres, free_port, port_open, secret_file
from rtk_cli.sfu_regions import plan_sfu_regions


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    grpc_port: int
    metrics_port: int
    http_port: int | None = None
    package: str = ""  # service package when several processes run one (sfu-eu-central → sfu)

    @property
    def module(self) -> str:
        return f"rtk_{self.package or self.name}"

    def exists(self) -> bool:
        return importlib.util.find_spec(f"{self.module}.__main__") is not None


# Start order matters only for readability of logs; readiness is awaited for all.
SERVICES = [
    ServiceSpec("auth", 50052, 9102),
    ServiceSpec("meeting", 50051, 9101),
    ServiceSpec("orchestrator", 50053, 9103),
    ServiceSpec("recording", 50055, 9105),
    ServiceSpec("sfu", 50054, 9104),
    ServiceSpec("gateway", 50050, 9100, http_port=8080),
]


@dataclass
class RunningService:
    spec: ServiceSpec
    grpc_port: int
    metrics_port: int
    http_port: int | None
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # per-process env on top (SFU regions)


class DevStack:
    def __init__(
        self,
        data_dir: Path,
        *,
        free_ports: bool = False,
        extra_env: dict[str, str] | None = None,
        log_to_files: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.free_ports = free_ports
        self.extra_env = dict(extra_env or {})
        self.log_to_files = log_to_files
        self.host = host
        self.postgres: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None
        self.database_url = ""
        self.nats_url = ""
        self.services: dict[str, RunningService] = {}
        self.credentials: dict[str, object] = {}
        self.internal_token = ""
        self.sfu_node_prefix = ""
        self.stack_id = ""

    # -- configuration -------------------------------------------------------------------
    def _setting(self, name: str) -> str | None:
        if name in self.extra_env:  # an explicit empty value means "not set" (embedded servers)
            return self.extra_env[name] or None
        return os.environ.get(name) or None

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def gateway_url(self) -> str:
        gw = self.services["gateway"]
        return f"http://{self.host}:{gw.http_port}"

    def grpc_addresses(self) -> dict[str, str]:
        return {name: f"{self.host}:{svc.grpc_port}" for name, svc in self.services.items()}

    @property
    def sfu_names(self) -> list[str]:
        """The SFU processes: `sfu`, or one `sfu-<region>` per RTK_SFU_REGIONS entry."""
        return [n for n, s in self.services.items() if s.spec.module == "rtk_sfu"]

    def _plan(self) -> None:
        used: set[int] = set()

        def pick(default: int) -> int:
            port = free_port() if self.free_ports else default
            while port in used:
                port = free_port()
            used.add(port)
            return port

        http_override = self._setting("RTK_HTTP_PORT")
        only = {n.strip() for n in (self._setting("RTK_SERVICES") or "").split(",") if n.strip()}
        # SFU node ids must be unique per NATS server: stacks of the tests share one, so each
        # stack prefixes its nodes and its gateway only places on nodes with that prefix.
        self.sfu_node_prefix = self._setting("RTK_SFU_NODE_ID_PREFIX") or (
            f"s{secrets.token_hex(3)}-" if self.free_ports else "")
        regions = self._setting("RTK_SFU_REGIONS") or ""
        for spec in SERVICES:
            if not spec.exists() or (only and spec.name not in only):
                continue
            if spec.name == "sfu" and regions.strip():
                for instance in plan_sfu_regions(regions, pick_port=pick, udp_ranges=not self.free_ports,
                                                 host=self.host, node_id_prefix=self.sfu_node_prefix):
                    sfu_spec = ServiceSpec(instance.name, instance.grpc_port, instance.metrics_port, package="sfu")
                    self.services[instance.name] = RunningService(
                        sfu_spec, instance.grpc_port, instance.metrics_port, None, overrides=dict(instance.env))
                continue
            http_port = None
            if spec.http_port is not None:
                http_port = int(http_override) if http_override else pick(spec.http_port)
            running = RunningService(spec, pick(spec.grpc_port), pick(spec.metrics_port), http_port)
            if spec.name == "sfu" and self.sfu_node_prefix:
                running.overrides["RTK_SFU_NODE_ID"] = f"{self.sfu_node_prefix}sfu"
            self.services[spec.name] = running

    def _env_for(self, svc: RunningService) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()}
        env.update(self.extra_env)
        addresses = self.grpc_addresses()
        env.update(
            {
                "RTK_DATABASE_URL": self.database_url,
                "RTK_NATS_URL": self.nats_url,
                "RTK_INTERNAL_TOKEN": self.internal_token,
                "RTK_DATA_DIR": str(self.data_dir),
                "RTK_GRPC_HOST": self.host,
                "RTK_HTTP_HOST": self.host,
                "RTK_GRPC_PORT": str(svc.grpc_port),
                "RTK_METRICS_PORT": str(svc.metrics_port),
                "RTK_PUBLIC_URL": self.gateway_url,
                "RTK_DRAIN_SECONDS": env.get("RTK_DRAIN_SECONDS", "0.2"),
                "RTK_LOG_FORMAT": env.get("RTK_LOG_FORMAT", "json"),
                "PYTHONUNBUFFERED": "1",
                "RTK_BUS_NAMESPACE": env.get("RTK_BUS_NAMESPACE") or self.stack_id,
            }
        )
        if svc.http_port is not None:
            env["RTK_HTTP_PORT"] = str(svc.http_port)
        sfus = self.sfu_names
        for name, address in addresses.items():
            if name not in sfus:
                env[f"RTK_{name.upper()}_ADDR"] = address
        if sfus:
            env["RTK_SFU_ADDR"] = addresses[sfus[0]]  # single-node callers: the first SFU
        if self.sfu_node_prefix:
            env["RTK_GATEWAY_SFU_NODE_PREFIX"] = self.sfu_node_prefix
        if svc.spec.module == "rtk_sfu" and self.free_ports and not env.get("RTK_SFU_ICE_ADDRESSES"):
            env["RTK_SFU_ICE_ADDRESSES"] = self.host  # tests: media over loopback only
        env.update(svc.overrides)
        return env

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> dict[str, object]:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        try:
            self.database_url = self._setting("RTK_DATABASE_URL") or ""
            if not self.database_url:
                self.postgres = EmbeddedPostgres(self.data_dir)
                self.database_url = self.postgres.start()
            self.nats_url = self._setting("RTK_NATS_URL") or ""
            if not self.nats_url:
                preferred = None if self.free_ports else 14222
                self.nats = EmbeddedNats(self.data_dir, preferred)
                self.nats_url = self.nats.start(self.logs_dir / "nats.log")
            self.internal_token = self._setting("RTK_INTERNAL_TOKEN") or secret_file(self.data_dir / "internal_token")
            self.stack_id = secret_file(self.data_dir / "stack_id", nbytes=6)
            self._plan()
            for svc in self.services.values():
                self._check_port_free(svc)
                svc.env = self._env_for(svc)
                self._spawn(svc)
            self._await_ready(timeout)
            self.credentials = self._bootstrap()
            return self.credentials
        except BaseException:
            self.stop()
            raise

    def _check_port_free(self, svc: RunningService) -> None:
        for port in (svc.grpc_port, svc.http_port):
            if port is not None and port_open(self.host, port):
                raise RuntimeError(
                    f"port {port} for {svc.spec.name} is already in use (another `make run`?); "
                    "set RTK_HTTP_PORT or stop the other process"
                )

    def _spawn(self, svc: RunningService) -> None:
        if self.log_to_files:
            out = open(self.logs_dir / f"{svc.spec.name}.log", "ab")  # noqa: SIM115 - owned by the child
        else:
            out = None
        svc.process = subprocess.Popen(
            [sys.executable, "-m", svc.spec.module, "serve"],
            env=svc.env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,  # Ctrl-C reaches the launcher only; it stops children in order
        )

    def _await_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pending = dict(self.services)
        while pending:
            for name, svc in list(pending.items()):
                assert svc.process is not None
                if svc.process.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {svc.process.returncode}; see {self._log_hint(name)}")
                if self._healthy(svc.grpc_port) and (svc.http_port is None or port_open(self.host, svc.http_port)):
                    del pending[name]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"services not ready after {timeout}s: {sorted(pending)}")
            time.sleep(0.05)

    def _log_hint(self, name: str) -> str:
        return str(self.logs_dir / f"{name}.log") if self.log_to_files else "the output above"

    def _healthy(self, port: int) -> bool:
        try:
            with grpc.insecure_channel(f"{self.host}:{port}") as channel:
                response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=0.5)
                return response.status == health_pb2.HealthCheckResponse.SERVING
        except grpc.RpcError:
            return False

    def _bootstrap(self) -> dict[str, object]:
        """Create the default account, app and API token once; remember them in credentials.json."""
        from realtime.auth.v1 import auth_service_pb2, auth_service_pb2_grpc

        path = self.data_dir / "credentials.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        metadata = (("x-rtk-internal-token", self.internal_token),)
        with grpc.insecure_channel(self.grpc_addresses()["auth"]) as channel:
            stub = auth_service_pb2_grpc.AuthServiceStub(channel)
            result = stub.Bootstrap(
                auth_service_pb2.BootstrapRequest(account_name="default", app_name="default"),
                metadata=metadata,
                timeout=10,
            )
            api_token = result.api_token_secret or saved.get("api_token", "")
            if not api_token or saved.get("account_id") not in (None, result.account.id):
                created = stub.CreateApiToken(
                    auth_service_pb2.CreateApiTokenRequest(account_id=result.account.id, name="devstack"),
                    metadata=metadata,
                    timeout=10,
                )
                api_token = created.secret
        credentials = {
            "account_id": result.account.id,
            "app_id": result.app.id,
            "api_token": api_token,
            "gateway_url": self.gateway_url,
            "grpc": self.grpc_addresses(),
            "internal_token": self.internal_token,
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(credentials, f, indent=2)
        os.replace(tmp, path)
        return credentials

    def stop_service(self, name: str, timeout: float = 15.0) -> None:
        svc = self.services.get(name)
        if svc is None or svc.process is None or svc.process.poll() is not None:
            return
        svc.process.send_signal(signal.SIGTERM)
        try:
            svc.process.wait(timeout)
        except subprocess.TimeoutExpired:
            svc.process.kill()
            svc.process.wait()

    def restart_service(self, name: str, timeout: float = 30.0) -> None:
        self.stop_service(name)
        svc = self.services[name]
        self._spawn(svc)
        deadline = time.monotonic() + timeout
        while not self._healthy(svc.grpc_port):
            if svc.process is not None and svc.process.poll() is not None:
                raise RuntimeError(f"{name} exited with code {svc.process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name} not ready after restart")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the edge first (no new work), then the services, then the embedded servers."""
        order = ["gateway", *self.sfu_names, "recording", "orchestrator", "meeting", "auth"]
        running = [n for n in order if n in self.services]
        for name in running:  # signal all, then wait: services drain in parallel
            svc = self.services[name]
            if svc.process is not None and svc.process.poll() is None:
                svc.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for name in running:
            svc = self.services[name]
            if svc.process is None:
                continue
            try:
                svc.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                svc.process.kill()
                svc.process.wait()
        if self.nats is not None:
            self.nats.stop()
        if self.postgres is not None:
            self.postgres.stop()

    def failed(self) -> list[str]:
        return [n for n, s in self.services.items() if s.process is not None and s.process.poll() is not None]
