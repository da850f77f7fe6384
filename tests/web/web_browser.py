"""Headless Chromium driven from pytest through Playwright (npm `playwright-core`, Debian's
Chromium at /usr/bin/chromium; no browser download). `bridge.mjs` runs Playwright in Node; this
module talks to it over stdin/stdout, one JSON line per command.

    browser = await Browser.start(executable)
    host = await browser.open("host", url)
    await host.click('role=button[name="Join meeting"]')
    await host.wait_for("() => window.meeting.self.roomState === 'joined'")
"""

# ruff: noqa: ASYNC109 - `timeout` is handed to the browser (Playwright waits), not an asyncio timeout

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from collections import deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
WEB_DIR = REPO / "web"

CHROMIUM_ARGS = [
    # what the machine probe uses (python-svc.md "Known to work")
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # fake camera / microphone / screen, no permission prompts, autoplay with sound
    # (three cameras, for test_web_devices.py: fake_device_0 — the default — and fake_device_2
    # give I420 / MJPEG frames; fake_device_1 is a Y16 depth camera whose frames WebRTC does not
    # encode. The microphones are "Fake Default Audio Input", "Fake Audio Input 1" and "… 2".)
    "--use-fake-device-for-media-stream=fps=15,device-count=3",
    "--use-fake-ui-for-media-stream",
    "--auto-select-desktop-capture-source=Entire screen",
    "--autoplay-policy=no-user-gesture-required",
    # WebRTC over loopback with real host candidates (no mDNS names) towards the local SFU
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # several pages at once must not be throttled
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
]


class BrowserError(AssertionError):
    pass


class Page:
    def __init__(self, browser: Browser, name: str) -> None:
        self.browser = browser
        self.name = name

    async def _call(self, op: str, **kwargs: Any) -> Any:
        return await self.browser.call(op, page=self.name, **kwargs)

    async def goto(self, url: str) -> None:
        await self._call("goto", url=url)

    async def click(self, selector: str, timeout: float = 15.0) -> None:
        await self._call("click", selector=selector, timeout=int(timeout * 1000))

    async def fill(self, selector: str, value: str, timeout: float = 15.0) -> None:
        await self._call("fill", selector=selector, value=value, timeout=int(timeout * 1000))

    async def select_option(self, selector: str, label: str, timeout: float = 15.0) -> list[str]:
        """Choose the option of a <select> whose visible text is `label`; the selected values."""
        return await self._call("selectOption", selector=selector, label=label, timeout=int(timeout * 1000))

    async def press(self, selector: str, key: str, timeout: float = 15.0) -> None:
        await self._call("press", selector=selector, key=key, timeout=int(timeout * 1000))

    async def keyboard(self, key: str) -> None:
        await self._call("keyboard", key=key)

    async def wait(self, selector: str, state: str = "visible", timeout: float = 15.0) -> None:
        await self._call("wait", selector=selector, state=state, timeout=int(timeout * 1000))

    async def count(self, selector: str) -> int:
        return int(await self._call("count", selector=selector))

    async def attribute(self, selector: str, name: str, timeout: float = 15.0) -> str | None:
        return await self._call("attribute", selector=selector, name=name, timeout=int(timeout * 1000))

    async def text(self, selector: str, timeout: float = 15.0) -> str:
        return await self._call("text", selector=selector, timeout=int(timeout * 1000))

    async def eval(self, expression: str, arg: Any = None) -> Any:
        """Evaluate a JS expression or function source (`"(arg) => …"`) in the page."""
        return await self._call("evaluate", expression=expression, arg=arg)

    async def wait_for(self, expression: str, arg: Any = None, timeout: float = 15.0, polling: int = 100) -> Any:
        """Wait until a JS function (`"(arg) => …"`) returns a truthy value; returns it."""
        return await self._call(
            "waitFunction", expression=expression, arg=arg, timeout=int(timeout * 1000), polling=polling,
            _timeout=timeout + 10,
        )

    async def screenshot(self, path: Path, selector: str | None = None) -> Path:
        await self._call("screenshot", path=str(path), selector=selector)
        return path

    async def set_offline(self, offline: bool) -> None:
        await self._call("setOffline", offline=offline)

    async def close(self) -> None:
        await self._call("closePage")

    def logs(self) -> list[str]:
        return list(self.browser.console.get(self.name, []))


class Browser:
    """One Chromium process (via the Node bridge); `open()` gives each page its own context."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self.console: dict[str, deque[str]] = {}
        self._reader = asyncio.create_task(self._read())
        self.version = ""

    @classmethod
    async def start(cls, executable: str, extra_args: list[str] | None = None) -> Browser:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(HERE / "bridge.mjs"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
            env={**os.environ, "RTK_WEB_DIR": str(WEB_DIR)},
            limit=16 * 1024 * 1024,
        )
        browser = cls(process)
        try:
            browser.version = await browser.call("launch", executablePath=executable, args=CHROMIUM_ARGS + (extra_args or []),
                                                  _timeout=90)
        except BaseException:
            await browser.close()
            raise
        return browser

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "event" in message:
                logs = self.console.setdefault(message.get("page", ""), deque(maxlen=300))
                logs.append(f"[{message.get('type')}] {message.get('text')}")
                continue
            future = self._pending.pop(message.get("id"), None)
            if future is not None and not future.done():
                if message.get("ok"):
                    future.set_result(message.get("result"))
                else:
                    future.set_exception(BrowserError(message.get("error", "browser command failed")))
        for future in self._pending.values():
            if not future.done():
                future.set_exception(BrowserError("the browser bridge exited"))
        self._pending.clear()

    async def call(self, op: str, _timeout: float = 60.0, **kwargs: Any) -> Any:
        if self.process.returncode is not None or self.process.stdin is None:
            raise BrowserError("the browser bridge is not running")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self.process.stdin.write((json.dumps({"id": request_id, "op": op, **kwargs}) + "\n").encode())
        await self.process.stdin.drain()
        try:
            return await asyncio.wait_for(future, _timeout)
        finally:
            self._pending.pop(request_id, None)

    async def open(self, name: str, url: str | None = None) -> Page:
        await self.call("open", page=name, url=url)
        return Page(self, name)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.call("close"), 15)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader

    def all_logs(self) -> str:
        return "\n".join(f"{name}: {line}" for name, lines in self.console.items() for line in lines)
