"""Fixtures of the browser tests: Chromium (Debian's, installed here when missing and we are
root), Playwright (npm `playwright-core` from web/package-lock.json, no browser download), the
real stack with the demo launcher on, and a browser that is shared by the folder's tests (each
test opens its own pages, one browser context per participant)."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import aioice.ice
import aioice.stun
import pytest
from web_browser import WEB_DIR, Browser

# Python SDK peers (aiortc) gather on loopback only, where the stack's SFU listens, with short
# STUN retries (as in tests/sfu): deterministic on any host, no network needed.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]
aioice.stun.RETRY_MAX = 3
aioice.stun.RETRY_RTO = 0.1

RESUME_WINDOW_SECONDS = 15


def _root_conftest(config: pytest.Config) -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "conftest.py"
    for plugin in config.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None)
        if file and Path(file).resolve() == path:
            return plugin
    raise RuntimeError("tests/conftest.py is not loaded")


def _find_chromium() -> str | None:
    for candidate in (os.environ.get("RTK_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


INSTALL_TIMEOUT_SECONDS = 1200


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The first browser test pays for installing Chromium (apt-get) and Playwright (npm ci) on a
    fresh machine: give it more than the default per-test timeout."""
    here = Path(__file__).resolve().parent
    if _find_chromium() and (WEB_DIR / "node_modules" / "playwright-core").is_dir():
        return
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents and "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(INSTALL_TIMEOUT_SECONDS))
            return


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; installed with apt-get when missing and running as root."""
    found = _find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get): "
                    "`apt-get install -y chromium` enables the browser tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
    result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900, check=False)
    if result.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900, check=False)
    found = _find_chromium()
    if not found:
        pytest.skip(f"Chromium could not be installed with apt-get: {result.stderr[-400:]}")
    return found


@pytest.fixture(scope="session")
def playwright_installed() -> Path:
    """web/node_modules/playwright-core from the lock file (`npm ci`)."""
    if (WEB_DIR / "node_modules" / "playwright-core" / "package.json").is_file():
        return WEB_DIR
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.skip("Node.js and npm are needed for the browser tests (playwright-core)")
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=WEB_DIR,
                            capture_output=True, text=True, timeout=600, check=False)
    if result.returncode != 0:
        pytest.fail(f"npm ci in web/ failed: {result.stderr[-800:]}")
    return WEB_DIR


@pytest.fixture(scope="session")
async def stack(request: pytest.FixtureRequest, infra: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The real stack (tests/conftest.py's Stack) with the demo launcher enabled."""
    root = _root_conftest(request.config)
    database_url = await infra.create_database()
    running = root.start_stack(
        infra,
        tmp_path_factory.mktemp("web-stack"),
        database_url,
        extra_env={
            "RTK_GATEWAY_DEMO": "true",
            "RTK_ORCHESTRATOR_RESUME_WINDOW_SECONDS": str(RESUME_WINDOW_SECONDS),
        },
    )
    yield running
    running.dev.stop()


@pytest.fixture(scope="session")
async def browser(chromium_path: str, playwright_installed: Path) -> AsyncIterator[Browser]:
    running = await Browser.start(chromium_path)
    yield running
    await running.close()


@pytest.fixture
async def pages(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[list[Any]]:
    """Pages opened by the test (closed afterwards; their console is attached on failure)."""
    opened: list[Any] = []
    yield opened
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for page in opened:
            report.sections.append((f"browser console: {page.name}", "\n".join(page.logs()[-80:])))
    for page in opened:
        try:
            await page.close()
        except Exception:  # noqa: BLE001 - best effort
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


class Api:
    """REST calls as the bootstrap account."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.http = stack.client()
        self._presets: dict[str, dict[str, Any]] = {}

    async def close(self) -> None:
        await self.http.aclose()

    async def _ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, self.stack.base + path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json()["data"]

    async def meeting(self, title: str = "web test") -> str:
        return (await self._ok("POST", "/meetings", json={"title": title}))["id"]

    async def participant(self, meeting_id: str, preset_name: str, name: str) -> dict[str, Any]:
        body = {"name": name, "preset_name": preset_name, "custom_participant_id": f"cp-{uuid.uuid4().hex[:10]}"}
        return await self._ok("POST", f"/meetings/{meeting_id}/participants", json=body)

    async def token(self, meeting_id: str, preset_name: str, name: str) -> str:
        return (await self.participant(meeting_id, preset_name, name))["token"]

    async def preset(self, name: str) -> dict[str, Any]:
        if name not in self._presets:
            items = await self._ok("GET", "/presets", params={"per_page": 100})
            match = next(p for p in items if p["name"] == name)
            self._presets[name] = await self._ok("GET", f"/presets/{match['id']}")
        return self._presets[name]

    async def preset_copy(self, base: str, *, permissions: dict[str, Any] | None = None,
                          ui: dict[str, Any] | None = None, config: dict[str, Any] | None = None) -> str:
        """A copy of preset `base` with some permissions / config / ui replaced; its name."""
        source = await self.preset(base)
        name = f"web-{base}-{uuid.uuid4().hex[:6]}"
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


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Api]:
    client = Api(stack)
    yield client
    await client.close()


@pytest.fixture
async def sdk_peer(stack: Any) -> AsyncIterator[Any]:
    """`await sdk_peer(token)` → an initialised Python SDK client (synthetic 320×240 camera,
    synthetic microphone), left after the test."""
    from realtimekit import RealtimeKitClient

    clients: list[Any] = []

    async def _connect(token: str, **options: Any) -> Any:
        options.setdefault("defaults", {"mediaConfiguration": {"video": {"width": 320, "height": 240, "frameRate": 10}}})
        meeting = await RealtimeKitClient.init(auth_token=token, base_url=stack.gateway_url, **options)
        clients.append(meeting)
        return meeting

    yield _connect
    await asyncio.gather(*(c.leave() for c in clients), return_exceptions=True)
