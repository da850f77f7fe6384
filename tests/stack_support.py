"""What the test folders share: the infrastructure handle, the running stack, REST setup calls as
the bootstrap account, and loopback-only ICE for in-process aiortc peers. A plain module (on
sys.path through tests/conftest.py's folder), because conftest modules are not importable by name."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from rtk_cli.devstack import DevStack
from rtk_cli.embedded import EmbeddedPostgres


@dataclass
class Infra:
    """One Postgres server and one NATS server for the whole test session."""

    admin_url: str  # a DSN on the server, used to create fresh databases
    nats_url: str
    postgres: EmbeddedPostgres | None  # set when embedded (restartable by fault tests)

    def database_url(self, name: str) -> str:
        base, _, query = self.admin_url.partition("?")
        root = base.rsplit("/", 1)[0]
        return f"{root}/{name}" + (f"?{query}" if query else "")

    async def create_database(self) -> str:
        name = f"rtk_test_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return self.database_url(name)


class Stack:
    """A running stack plus conveniences for REST calls as the bootstrap account."""

    def __init__(self, dev: DevStack) -> None:
        self.dev = dev
        self.credentials = dev.credentials
        self.gateway_url: str = dev.gateway_url
        self.account_id: str = dev.credentials["account_id"]  # type: ignore[assignment]
        self.app_id: str = dev.credentials["app_id"]  # type: ignore[assignment]
        self.api_token: str = dev.credentials["api_token"]  # type: ignore[assignment]
        self.grpc: dict[str, str] = dev.credentials["grpc"]  # type: ignore[assignment]
        self.internal_token = dev.internal_token

    @property
    def base(self) -> str:
        """RealtimeKit's app-scoped prefix for the bootstrap app."""
        return f"/client/v4/accounts/{self.account_id}/realtime/kit/{self.app_id}"

    def client(self, token: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.gateway_url,
            headers={"Authorization": f"Bearer {token or self.api_token}"},
            timeout=30,
        )

    def logs(self, name: str, tail: int = 60) -> str:
        path = self.dev.logs_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])


def start_stack(infra: Infra, data_dir: Path, database_url: str, extra_env: dict[str, str] | None = None) -> Stack:
    """A stack on a fresh database. Unless RTK_NATS_URL is set for the whole run, each stack gets
    its own embedded NATS: SFU heartbeats, placement pins and consumers never cross stacks."""
    env = {"RTK_DATABASE_URL": database_url, "RTK_LOG_LEVEL": "info"}
    if os.environ.get("RTK_NATS_URL"):
        env["RTK_NATS_URL"] = infra.nats_url
    env.update(extra_env or {})
    dev = DevStack(data_dir, free_ports=True, extra_env=env, log_to_files=True)
    dev.start(timeout=90)
    return Stack(dev)


class RestApi:
    """RealtimeKit REST calls as the bootstrap account: meetings, participants, presets."""

    def __init__(self, stack: Stack, title: str = "test meeting") -> None:
        self.stack = stack
        self.http = stack.client()
        self.title = title
        self._presets: dict[str, dict[str, Any]] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def _ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, self.stack.base + path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()["data"]

    async def meeting(self, title: str | None = None) -> str:
        return (await self._ok("POST", "/meetings", json={"title": title or self.title}))["id"]

    async def participant(self, meeting_id: str, preset_name: str = "group_call_participant",
                          name: str | None = None) -> dict[str, Any]:
        body = {"name": name or f"user-{uuid.uuid4().hex[:6]}", "preset_name": preset_name,
                "custom_participant_id": f"cp-{uuid.uuid4().hex[:10]}"}
        return await self._ok("POST", f"/meetings/{meeting_id}/participants", json=body)

    async def token(self, meeting_id: str, preset_name: str = "group_call_participant", name: str | None = None) -> str:
        return (await self.participant(meeting_id, preset_name, name))["token"]

    async def preset(self, name: str) -> dict[str, Any]:
        if name not in self._presets:
            items = await self._ok("GET", "/presets", params={"per_page": 100})
            match = next(p for p in items if p["name"] == name)
            self._presets[name] = await self._ok("GET", f"/presets/{match['id']}")
        return self._presets[name]

    async def preset_copy(self, base: str, *, permissions: dict[str, Any] | None = None,
                          ui: dict[str, Any] | None = None, config: dict[str, Any] | None = None,
                          prefix: str = "copy") -> str:
        """A copy of preset `base` with top-level keys of permissions / config replaced (and ui
        replaced as a whole); its name."""
        source = await self.preset(base)
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        body = {k: v for k, v in source.items() if k in ("config", "permissions", "ui")}
        body["name"] = name
        if permissions:
            body["permissions"] = {**body["permissions"], **permissions}
        if ui:
            body["ui"] = ui
        if config:
            body["config"] = {**body["config"], **config}
        await self._ok("POST", "/presets", json=body)
        return name


def loopback_only_ice() -> None:
    """In-process aiortc peers (SDK clients) gather on loopback only, where the stack's SFU
    listens, with short STUN retries: deterministic on any host, no network needed."""
    import aioice.ice
    import aioice.stun

    aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
    aioice.stun.RETRY_MAX = 3
    aioice.stun.RETRY_RTO = 0.1


class SdkClients:
    """Python SDK clients of one test on `stack`: `await clients.connect(token, **options)` gives
    an initialised `RealtimeKitClient`; `close()` leaves them all afterwards (or only closes
    their sockets with `leave=False`)."""

    def __init__(self, stack: Stack, defaults: dict[str, Any] | None = None, *, leave: bool = True) -> None:
        self.stack = stack
        self.defaults = defaults
        self.leave = leave
        self.clients: list[Any] = []

    async def connect(self, token: str, **options: Any) -> Any:
        from realtimekit import RealtimeKitClient

        if self.defaults is not None:
            options.setdefault("defaults", self.defaults)
        meeting = await RealtimeKitClient.init(auth_token=token, base_url=self.stack.gateway_url, **options)
        self.clients.append(meeting)
        return meeting

    async def close(self) -> None:
        import asyncio

        await asyncio.gather(*((c.leave() if self.leave else c.close()) for c in self.clients),
                             return_exceptions=True)
