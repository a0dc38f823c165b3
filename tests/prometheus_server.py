"""A real Prometheus (Debian's `prometheus`, installed by `make sysdeps`) for the tests: the project's scrape
configuration (monitoring/prometheus.yml) with its rules, pointed at a test server's metrics port, scraping and
evaluating every second, on a free loopback port; always stopped (its whole process group)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from ace3d.tooling.server import free_port

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "monitoring"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@dataclass
class Prometheus:
    url: str
    log: Path

    def api(self, path: str, **params: str) -> dict:
        """GET /api/v1/PATH; the JSON body (Prometheus answers errors as JSON too, with status "error")."""
        url = f"{self.url}/api/v1/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            return json.loads(e.read())

    def query(self, expr: str) -> list[dict]:
        """An instant query's result vector; raises on a query error (bad PromQL, unknown function)."""
        body = self.api("query", query=expr)
        if body.get("status") != "success":
            raise AssertionError(f"query failed: {expr}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]["result"]

    def wait_for(self, expr: str, timeout: float = 60.0, what: str = "") -> list[dict]:
        """Poll until `expr` returns data."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result or time.monotonic() > deadline:
                assert result, f"no data after {timeout:.0f} s for {what or expr}\n{self.log_tail()}"
                return result
            time.sleep(0.5)

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])


def write_config(tmp: Path, metrics_target: str, interval: str = "1s") -> Path:
    """monitoring/prometheus.yml with the test's target, intervals and absolute rule paths."""
    cfg = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    cfg["global"].update(scrape_interval=interval, evaluation_interval=interval)
    cfg["rule_files"] = [str(MONITORING / f) for f in cfg["rule_files"]]
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "ace3d"]
    job["static_configs"] = [{"targets": [metrics_target]}]
    job["scrape_timeout"] = interval
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@contextlib.contextmanager
def running(tmp: Path, metrics_target: str, timeout: float = 60.0) -> Iterator[Prometheus]:
    """Start Prometheus scraping `metrics_target` (host:port), yield it once ready, always stop it."""
    config = write_config(tmp, metrics_target)
    port = free_port()
    log = tmp / "prometheus.log"
    cmd = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'data'}",
           f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h", "--log.level=warn"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    prom = Prometheus(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {proc.returncode}:\n{prom.log_tail()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{prom.url}/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready after {timeout:.0f} s:\n{prom.log_tail()}")
            time.sleep(0.2)
        yield prom
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        try:  # nothing of it may outlive the test
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            pass
        else:
            raise RuntimeError(f"prometheus process group {proc.pid} still alive after stop")
