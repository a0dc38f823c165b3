"""A real headless Chromium (Debian's `chromium`), driven over the Chrome DevTools Protocol on a websocket:
open a page, read what it shows, collect its console errors, take screenshots. Started on a free port with a
fresh profile and always stopped (the whole process group) when the `with` block ends.

Run as a script to screenshot a report: `python tests/integration/headless_chromium.py REPORT.html OUT.png`."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import websocket  # websocket-client

CHROMIUM = os.environ.get("ACE3D_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--mute-audio", "--remote-debugging-port=0", "--remote-allow-origins=*"]


class Chromium:
    """One browser with one page. `errors` holds every console error, uncaught exception and error log entry
    the page produced (CSP violations, failed loads, script errors)."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 60.0) -> None:
        self.width, self.height, self.timeout = width, height, timeout
        self.errors: list[str] = []
        self._id = 0
        self._events: list[dict] = []

    def __enter__(self) -> Chromium:
        self.profile = tempfile.mkdtemp(prefix="ace3d-chromium-")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                                      f"--window-size={self.width},{self.height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            port = self._port()
            pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            url = next(p["webSocketDebuggerUrl"] for p in pages if p.get("type") == "page")
            self.ws = websocket.create_connection(url, timeout=self.timeout, suppress_origin=True)
            for domain in ("Page", "Runtime", "Log"):
                self.send(f"{domain}.enable")
            self.send("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def _port(self) -> int:
        """The DevTools port Chromium picked, from the file it writes into its profile."""
        f = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{CHROMIUM} exited with status {self.proc.returncode} before it listened")
            if f.is_file() and f.read_text().strip():
                return int(f.read_text().split()[0])
            time.sleep(0.1)
        raise TimeoutError(f"{CHROMIUM} wrote no DevToolsActivePort in {self.timeout} s")

    # -------------------------------------------------------------------------------------- protocol
    def _record(self, msg: dict) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            self.errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                      for a in p.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + str(d.get("exception", {}).get("description", d.get("text"))))
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            self.errors.append("log: " + p["entry"].get("text", ""))
        self._events.append(msg)

    def send(self, method: str, **params) -> dict:
        """Call a DevTools method and return its result (events that arrive meanwhile are recorded)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._record(msg)

    def wait_event(self, method: str) -> dict:
        for i, msg in enumerate(self._events):
            if msg.get("method") == method:
                return self._events.pop(i)
        while True:
            msg = json.loads(self.ws.recv())
            self._record(msg)
            if msg.get("method") == method:
                self._events.remove(msg)
                return msg

    def pump(self, seconds: float) -> None:
        """Let `seconds` pass while recording the page's events (errors logged meanwhile are kept)."""
        self.ws.settimeout(0.05)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                try:
                    self._record(json.loads(self.ws.recv()))
                except websocket.WebSocketTimeoutException:
                    pass
        finally:
            self.ws.settimeout(self.timeout)

    # -------------------------------------------------------------------------------------- page
    def open(self, path: str | Path) -> None:
        """Load a local file and wait for its load event."""
        self._events.clear()
        self.send("Page.navigate", url=Path(path).resolve().as_uri())
        self.wait_event("Page.loadEventFired")

    def evaluate(self, expression: str):
        r = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def screenshot(self, clip: dict | None = None, full_page: bool = False) -> bytes:
        """PNG bytes of the viewport, of a clip {x, y, width, height} (page coordinates), or of the whole page."""
        import base64

        params: dict = {"format": "png"}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
        if clip is not None:
            params.update(clip={**clip, "scale": 1}, captureBeyondViewport=True)
        return base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])

    def box(self, selector: str) -> dict:
        """The page-coordinate box of the first element matching `selector`."""
        return self.evaluate(f"(function () {{ var r = document.querySelector({json.dumps(selector)})"
                             ".getBoundingClientRect(); return {x: r.x + window.scrollX, y: r.y + window.scrollY, "
                             "width: r.width, height: r.height}; })()")


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (3, 4):
        sys.exit("usage: headless_chromium.py REPORT.html OUT.png [HEIGHT]")
    with Chromium(height=int(sys.argv[3]) if len(sys.argv) == 4 else 900) as browser:
        browser.open(sys.argv[1])
        browser.pump(1.0)
        Path(sys.argv[2]).write_bytes(browser.screenshot())
        print(f"wrote {sys.argv[2]}; console errors: {browser.errors or 'none'}")
