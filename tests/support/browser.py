"""Drive Debian's headless Chromium over the Chrome DevTools Protocol (CDP).

No browser download and no driver binary: Chromium is started with
``--remote-debugging-port=0``, the port it picked is read from the
``DevToolsActivePort`` file it writes, and one page target is driven over a
websocket with aiohttp. The API is synchronous for tests (an event loop runs
in a background thread):

    with Browser() as b:
        b.goto(url)
        b.wait_for("document.querySelector('#node-name').textContent !== '…'", what="identity")
        b.screenshot(path)

Waits poll a JavaScript condition in the page until it holds or a deadline
passes, the browser-side twin of ``tests.support.daemons.wait_until``.
JavaScript errors and console errors are collected in ``errors`` so a test can
assert the page ran cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The browser binary: $CHROMIUM if set, else the first on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CHROMIUM_CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(Exception):
    pass


class _Cdp:
    """One websocket session to a page target: commands by id, events by method."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._waiters: list[tuple[str, asyncio.Future]] = []
        self._listeners: list[tuple[str, Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None

    async def connect(self, ws_url: str) -> None:
        self._session = aiohttp.ClientSession()
        # Screenshots of a full page arrive as one large message.
        self._ws = await self._session.ws_connect(ws_url, max_msg_size=64 * 1024 * 1024)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(BrowserError(f"CDP error: {data['error']}"))
                    else:
                        fut.set_result(data.get("result", {}))
                continue
            method = data.get("method", "")
            for name, callback in self._listeners:
                if name == method:
                    callback(data.get("params", {}))
            for name, fut in list(self._waiters):
                if name == method and not fut.done():
                    fut.set_result(data.get("params", {}))
                    self._waiters.remove((name, fut))
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BrowserError("the browser closed the DevTools connection"))

    async def send(self, method: str, params: dict | None = None, deadline_s: float = 30.0) -> dict:
        assert self._ws is not None
        msg_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        return await asyncio.wait_for(fut, deadline_s)

    def expect(self, method: str) -> asyncio.Future:
        """A future for the next event ``method``; take it before causing the event."""
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((method, fut))
        return fut

    def on(self, method: str, callback) -> None:
        self._listeners.append((method, callback))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        if self._session is not None:
            await self._session.close()


class Browser:
    """A headless Chromium with one page, driven synchronously."""

    def __init__(self, width: int = 1400, height: int = 1000, binary: str | None = None) -> None:
        self.binary = binary or find_chromium()
        if self.binary is None:
            raise BrowserError("no Chromium found (apt-get install chromium, or set CHROMIUM=/path)")
        self.width, self.height = width, height
        self.errors: list[str] = []
        self.console: list[str] = []
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cdp", daemon=True)
        self._cdp = _Cdp()

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Browser:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, timeout: float = 60.0) -> Browser:
        self._dir = Path(tempfile.mkdtemp(prefix="sd-chromium-"))
        args = [
            self.binary,
            "--headless=new",
            "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1",
            f"--user-data-dir={self._dir / 'profile'}",
            f"--window-size={self.width},{self.height}",
            "--no-first-run", "--no-default-browser-check", "--disable-extensions",
            "--disable-background-networking", "--disable-sync", "--disable-gpu",
            "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
            "about:blank",
        ]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        self._log = open(self._dir / "chromium.log", "wb")
        self._proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        port = self._wait_port(timeout)
        self._thread.start()
        ws_url = self._run(self._page_ws_url(port), timeout)
        self._run(self._cdp.connect(ws_url), timeout)
        self._cdp.on("Runtime.exceptionThrown", self._on_exception)
        self._cdp.on("Runtime.consoleAPICalled", self._on_console)
        self._cdp.on("Log.entryAdded", self._on_log)
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self._run(self._cdp.send(domain), timeout)
        return self

    def _wait_port(self, timeout: float) -> int:
        assert self._dir is not None and self._proc is not None
        marker = self._dir / "profile" / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self._proc.returncode}:\n{self.log()[-3000:]}")
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                return int(marker.read_text().splitlines()[0])
            time.sleep(0.05)
        raise BrowserError(f"chromium did not open its DevTools port within {timeout}s:\n{self.log()[-3000:]}")

    async def _page_ws_url(self, port: int) -> str:
        async with aiohttp.ClientSession() as s:
            for _ in range(200):
                async with s.get(f"http://127.0.0.1:{port}/json/list") as r:
                    targets = await r.json(content_type=None)
                pages = [t for t in targets if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
                await asyncio.sleep(0.05)
        raise BrowserError("chromium has no page target")

    def log(self) -> str:
        path = self._dir / "chromium.log" if self._dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                self._run(self._cdp.send("Browser.close", deadline_s=5), 10)
            with contextlib.suppress(Exception):
                self._run(self._cdp.close(), 10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, 9)
                self._proc.wait(10)
        if getattr(self, "_log", None) is not None:
            self._log.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- events from the page ---------------------------------------------------------

    def _on_exception(self, params: dict) -> None:
        details = params.get("exceptionDetails", {})
        exc = details.get("exception", {})
        self.errors.append(f"exception: {exc.get('description') or details.get('text')}")

    def _on_console(self, params: dict) -> None:
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        self.console.append(f"{params.get('type')}: {text}")
        if params.get("type") == "error":
            self.errors.append(f"console.error: {text}")

    def _on_log(self, params: dict) -> None:
        entry = params.get("entry", {})
        if entry.get("level") == "error":
            self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())

    # -- driving the page ----------------------------------------------------------------

    def _run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout + 5)

    def goto(self, url: str, timeout: float = 30.0) -> None:
        async def _go() -> None:
            loaded = self._cdp.expect("Page.loadEventFired")
            result = await self._cdp.send("Page.navigate", {"url": url}, timeout)
            if result.get("errorText"):
                raise BrowserError(f"navigating to {url} failed: {result['errorText']}")
            await asyncio.wait_for(loaded, timeout)

        self._run(_go(), timeout)

    def evaluate(self, expression: str, timeout: float = 30.0) -> Any:
        """The value of a JavaScript expression (promises are awaited); page errors raise."""
        result = self._run(self._cdp.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True,
        }, timeout), timeout)
        if "exceptionDetails" in result:
            d = result["exceptionDetails"]
            raise BrowserError(f"{expression!r} threw: {d.get('exception', {}).get('description') or d.get('text')}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, what: str = "condition",
                 interval: float = 0.1) -> Any:
        """Poll a JavaScript expression until it is truthy; its value is returned."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression, timeout=max(1.0, deadline - time.monotonic()))
            except BrowserError as e:
                last = e
            else:
                if last:
                    return last
            time.sleep(interval)
        raise TimeoutError(f"{what} not reached within {timeout}s (last value: {last!r}; "
                           f"page errors: {self.errors})")

    def text(self, selector: str) -> str | None:
        return self.evaluate(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)}); "
            f"return n ? n.textContent : null; }})()"
        )

    def type_into(self, selector: str, value: str) -> None:
        """Set an input's value and fire ``input`` as typing would."""
        self.evaluate(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)}); n.focus(); "
            f"n.value = {json.dumps(value)}; n.dispatchEvent(new Event('input', {{bubbles: true}})); }})()"
        )

    def screenshot(self, path: Path, full_page: bool = True, timeout: float = 30.0) -> Path:
        """A PNG of the page (the whole scrollable page by default)."""
        async def _shot() -> bytes:
            params: dict[str, Any] = {"format": "png"}
            if full_page:
                metrics = await self._cdp.send("Page.getLayoutMetrics")
                size = metrics.get("cssContentSize") or metrics["contentSize"]
                params["clip"] = {"x": 0, "y": 0, "width": max(self.width, size["width"]),
                                  "height": size["height"], "scale": 1}
                params["captureBeyondViewport"] = True
            result = await self._cdp.send("Page.captureScreenshot", params, timeout)
            return base64.b64decode(result["data"])

        data = self._run(_shot(), timeout)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path
