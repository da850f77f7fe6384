"""Fixtures of the browser tests: Chromium (Debian's, installed here when missing and we are
root), Playwright (npm `playwright-core` from web/package-lock.json, no browser download), the
real stack with the demo launcher on, and a browser that is shared by the folder's tests (each
test opens its own pages, one browser context per participant)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from stack_support import RestApi, SdkClients, loopback_only_ice, start_stack
from web_browser import WEB_DIR, Browser
from web_helpers import RESUME_WINDOW_SECONDS

loopback_only_ice()  # the Python SDK peers of these tests


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
    database_url = await infra.create_database()
    running = start_stack(
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


class Api(RestApi):
    def __init__(self, stack: Any) -> None:
        super().__init__(stack, title="web test")

    async def preset_copy(self, base: str, **changes: Any) -> str:  # type: ignore[override]
        return await super().preset_copy(base, prefix=f"web-{base}", **changes)


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Api]:
    client = Api(stack)
    yield client
    await client.close()


@pytest.fixture
async def sdk_peer(stack: Any) -> AsyncIterator[Any]:
    """`await sdk_peer(token)` → an initialised Python SDK client (synthetic 320×240 camera,
    synthetic microphone), left after the test."""
    clients = SdkClients(stack, {"mediaConfiguration": {"video": {"width": 320, "height": 240, "frameRate": 10}}})
    yield clients.connect
    await clients.close()
