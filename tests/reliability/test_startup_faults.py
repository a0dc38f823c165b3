"""Start-up faults and the model-loading lock-down, on a short-lived TorchServe of their own (started and stopped
in this module, before the suite's main server exists, so that one server runs at a time).

That server starts with two broken archives — a truncated .mar, and a well-formed .mar whose bank belongs to
another model — and, unlike production, with the model API ON, so that `allowed_urls` alone is what refuses a
remote or out-of-store archive (the ShellTorch class of attack, CVE-2023-43654). The production setting,
`enable_model_api=false`, is tested on the main server (test_security.py)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from rel_helpers import INIT_FAILED, MODEL_CONFIG, http

from ace3d.tooling.archive import build_archive
from ace3d.tooling.server import LocalServer, Ports

pytestmark = pytest.mark.reliability

WAIT = 120.0  # bounded polls of the logs


class _NoWait(LocalServer):
    """LocalServer that returns as soon as the process runs: these models are expected never to be ready."""

    def wait_ready(self, timeout, proc=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.ports.inference}/ping", timeout=5):
                    return
            except urllib.error.HTTPError:
                return  # it answers (an unhealthy model may make /ping a 500)
            except (urllib.error.URLError, OSError):
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"TorchServe exited:\n{self.log_tail()}") from None
                time.sleep(0.5)
        raise RuntimeError(f"TorchServe not up after {timeout:.0f} s:\n{self.log_tail()}")


def _foreign_bank(bank, out):
    """The bank, claiming to come from another model (as tests/integration/test_serving_cli.py makes it)."""
    with np.load(bank, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["model"]["fingerprint"] = "0" * 16
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(out, **arrays)
    return out


@pytest.fixture(scope="module")
def broken_server(model_pair, tmp_path_factory):
    spec, bank = model_pair
    tmp = tmp_path_factory.mktemp("rel-startup")
    (tmp / "model-config.yaml").write_text(MODEL_CONFIG)
    store = tmp / "store"
    cfg = tmp / "model-config.yaml"
    good = build_archive(spec, bank, "good", store, config=cfg, device="cpu", check=False)
    build_archive(spec, _foreign_bank(bank, tmp / "foreign.npz"), "badbank", store, config=cfg, device="cpu",
                  check=False)
    data = good.read_bytes()
    (store / "corrupt.mar").write_bytes(data[: len(data) // 3])
    server = _NoWait(runtime=tmp / "runtime", model_store=store,
                     models={"corrupt": "corrupt.mar", "badbank": "badbank.mar"}, ports=Ports.free(),
                     overrides={"enable_model_api": "true"})
    server.start(timeout=WAIT)
    try:
        yield server
    finally:
        server.stop()


def _poll_log(server, name: str, needle: str) -> str:
    path = server.runtime / "logs" / name
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.is_file() else ""
        lines = [ln for ln in text.splitlines() if needle in ln]
        if lines:
            return "\n".join(lines)
        time.sleep(1)
    raise AssertionError(f"no line with {needle!r} in {name} after {WAIT:.0f} s:\n{server.log_tail()}")


def test_corrupt_archive_fails_to_load_with_a_clear_log_line(broken_server):
    lines = _poll_log(broken_server, "ts_log.log", "corrupt.mar")
    assert any(w in lines.lower() for w in ("fail", "invalid", "error", "exception")), lines


def test_bank_of_another_model_fails_to_load_with_a_clear_log_line(broken_server):
    """Each (re)start of the worker logs the reason; the worker never becomes READY."""
    line = _poll_log(broken_server, "model_log.log", INIT_FAILED)
    assert "does not match the model" in line, line
    status, body = http("GET", f"http://127.0.0.1:{broken_server.ports.management}/models/badbank",
                        broken_server.keys().get("management"))
    assert status == 200, body
    assert not any(w.get("status") == "READY" for m in json.loads(body) for w in m["workers"])


def test_bank_of_another_model_is_counted_for_the_alert(broken_server):
    """ace3d_startup_failures{Reason="bank_mismatch"} is what Ace3dBankModelMismatch (monitoring/) fires on."""
    from prometheus_client.parser import text_string_to_metric_families

    deadline, seen = time.monotonic() + WAIT, 0.0
    while time.monotonic() < deadline and not seen:
        with urllib.request.urlopen(broken_server.metrics_url, timeout=30) as r:
            fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
        fam = fams.get("ace3d_startup_failures")
        seen = sum(s.value for s in fam.samples if s.labels.get("ModelName") == "badbank"
                   and s.labels.get("Reason") == "bank_mismatch") if fam else 0.0
        time.sleep(0 if seen else 1)
    assert seen >= 1, "no ace3d_startup_failures{ModelName=badbank,Reason=bank_mismatch} on the metrics port"


def test_bank_of_another_model_fires_the_alert_in_a_real_prometheus(broken_server, tmp_path):
    """The whole chain: the worker refuses its bank, counts it, Prometheus (the project's scrape configuration
    and rules, Debian's prometheus) scrapes it and Ace3dBankModelMismatch fires for that model."""
    from prometheus_server import running

    target = broken_server.metrics_url.removeprefix("http://").removesuffix("/metrics")
    with running(tmp_path, target) as prom:
        alerts = prom.wait_for('ALERTS{alertname="Ace3dBankModelMismatch",alertstate="firing"}', timeout=WAIT)
    assert {a["metric"]["ModelName"] for a in alerts} == {"badbank"}
    assert {a["metric"]["severity"] for a in alerts} == {"critical"}


NOT_ALLOWED, RELATIVE = "does not match any allowed url", "relative path is not allowed"


@pytest.mark.parametrize("url,why", [("http://127.0.0.1:9/evil.mar", NOT_ALLOWED),
                                     ("https://example.com/model.mar", NOT_ALLOWED),
                                     ("file:///etc/passwd", NOT_ALLOWED),
                                     ("file:///tmp/../etc/evil.mar", RELATIVE), ("../store/good.mar", RELATIVE)])
def test_archive_from_outside_the_model_store_is_refused(broken_server, url, why):
    mgmt = f"http://127.0.0.1:{broken_server.ports.management}"
    key = broken_server.keys()["management"]
    status, body = http("POST", f"{mgmt}/models?{urllib.parse.urlencode({'url': url, 'initial_workers': 0})}", key)
    assert 400 <= status < 500, (status, body)
    assert why in body.lower(), body


def test_archive_inside_the_model_store_is_accepted(broken_server):
    """The control: on the same server an archive of the store registers (the model API is on, so the refusals
    above come from allowed_urls)."""
    mgmt = f"http://127.0.0.1:{broken_server.ports.management}"
    key = broken_server.keys()["management"]
    query = urllib.parse.urlencode({"url": "good.mar", "initial_workers": 0})
    status, body = http("POST", f"{mgmt}/models?{query}", key)
    assert status == 200, body
    status, body = http("GET", f"{mgmt}/models", key)
    assert status == 200 and '"good"' in body
