"""The service seen by a real Prometheus: Debian's `prometheus` with the project's scrape configuration and
rules (monitoring/) scrapes the test TorchServe every second while good and bad requests flow, and the
queries operators and the autoscaler use return data through its HTTP API: request rate by status, latency
quantiles per stage, errors by gRPC status, busy workers, explanation quality, and every panel of the
Grafana dashboard (monitoring/ace3d-dashboard.json)."""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.request

import pytest
import yaml
from ace3d_client.client import RemoteError
from prometheus_server import MONITORING, PROMETHEUS, ROOT, running

from ace3d.serving import protocol

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD, BAD = 8, 4  # videos explained and junk sent while Prometheus scrapes
# Panels that have no data on a healthy server, and why.
EXPECTED_EMPTY = {"Worker start-up failures": "every worker of the test server started"}


def _server_counters(served, name: str, label: str) -> dict[str, float]:
    """A counter's values by one label, read from the server's own /metrics (not through Prometheus)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(served.metrics_url, timeout=30) as r:
        text = r.read().decode()
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name.removesuffix("_total") == name and s.labels.get("ModelName") == served.model:
                out[s.labels[label]] = out.get(s.labels[label], 0.0) + s.value
    return out


def _values(result: list[dict], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


@pytest.fixture(scope="module")
def prom(served, tmp_path_factory):
    if not PROMETHEUS or not __import__("os").path.exists(PROMETHEUS):
        pytest.fail("prometheus is not installed: run `make sysdeps` (debian-packages.txt)")
    target = served.metrics_url.removeprefix("http://").removesuffix("/metrics")
    with running(tmp_path_factory.mktemp("prometheus"), target) as p:
        p.wait_for('up{job="ace3d"} == 1', what="a first successful scrape of the test server")
        yield p


@pytest.fixture(scope="module")
def traffic(served, prom, video_bytes):
    """GOOD explanations and BAD junk videos sent over a few seconds (two callers), while Prometheus scrapes;
    the server's own request counters before and after."""
    before = _server_counters(served, "ace3d_requests", "Code")
    refused: list[str] = []

    def junk() -> None:
        with served.client() as c:
            for i in range(BAD):
                time.sleep(0.5)
                try:
                    c.explain(b"\0" * (100 + i))
                except RemoteError as e:
                    refused.append(e.reason or "")

    t = threading.Thread(target=junk)
    t.start()
    with served.client() as c:
        answers = [c.explain(video_bytes) for _ in range(GOOD)]
    t.join()
    # the frontend counts a request once its answer has gone out, so the last ones can land just after the
    # client has them: read until every request of this traffic is counted (an over-count fails the tests below)
    expected, deadline = sum(before.values()) + GOOD + BAD, time.monotonic() + 30
    while True:
        after = _server_counters(served, "ace3d_requests", "Code")
        if sum(after.values()) >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    time.sleep(3)  # a few scrapes and rule evaluations after the last request
    return {"answers": answers, "refused": refused, "delta": {k: v - before.get(k, 0.0) for k, v in after.items()},
            "after": after}


def test_request_counter_counts_each_request_once_by_status(traffic):
    assert len(traffic["answers"]) == GOOD and len(traffic["refused"]) == BAD
    assert traffic["delta"].get("OK") == GOOD
    assert traffic["delta"].get("INVALID_ARGUMENT") == BAD
    assert sum(traffic["delta"].values()) == GOOD + BAD


def test_prometheus_holds_the_servers_counter_values(served, prom, traffic):
    deadline = time.monotonic() + 15
    while True:
        seen = _values(prom.query(f'sum by (Code) (ace3d_requests{{job="ace3d",ModelName="{served.model}"}})'),
                       "Code")
        if seen == traffic["after"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert seen == traffic["after"]


def test_request_rate_by_status(prom, traffic):
    raw = _values(prom.query('sum by (Code) (rate(ace3d_requests{job="ace3d"}[1m]))'), "Code")
    assert raw.get("OK", 0) > 0 and raw.get("INVALID_ARGUMENT", 0) > 0, raw
    recorded = _values(prom.wait_for('ace3d:requests:rate5m{Code="OK"}'), "Code")
    assert recorded["OK"] > 0


def test_errors_by_grpc_status(prom, traffic):
    errors = _values(prom.query('sum by (Code) (rate(ace3d_requests{job="ace3d",Code!="OK"}[1m]))'), "Code")
    # statuses that earlier tests produced are there too, at rate 0: only the junk of this traffic is recent
    assert {code for code, rate in errors.items() if rate > 0} == {"INVALID_ARGUMENT"}, errors
    refusals = _values(prom.wait_for("ace3d:refusals:ratio_rate5m"), "ModelName")
    server_errors = _values(prom.wait_for("ace3d:server_errors:ratio_rate5m"), "ModelName")
    assert all(0 < v < 1 for v in refusals.values()), refusals
    assert all(v == 0 for v in server_errors.values()), server_errors  # 0, not absent, when nothing failed


def test_latency_quantiles_per_stage(prom, traffic):
    p50 = _values(prom.wait_for('ace3d:stage_latency_seconds:p50_5m{job="ace3d"}'), "Stage")
    p99 = _values(prom.wait_for('ace3d:stage_latency_seconds:p99_5m{job="ace3d"}'), "Stage")
    assert set(p50) == set(p99) == set(protocol.STAGES)
    for stage in protocol.STAGES:
        assert 0 < p50[stage] <= p99[stage] <= 10, (stage, p50[stage], p99[stage])
    assert p50["total"] >= p50["decode"]  # the total includes decoding


def test_busy_workers_the_autoscaler_scales_on(prom, traffic):
    busy = prom.wait_for("ace3d:busy_workers:rate2m")
    assert len(busy) == 1 and float(busy[0]["value"][1]) > 0
    assert _values(prom.wait_for("ace3d:workers"), "job") == {"ace3d": 1.0}  # the test archive's one worker
    assert float(prom.wait_for("ace3d:worker_saturation:ratio")[0]["value"][1]) > 0
    # the prometheus-adapter rule's own query, with the label matchers the adapter would fill in
    rule = yaml.safe_load((ROOT / "k8s" / "prometheus-adapter" / "rules.yaml").read_text())["rules"]["custom"][0]
    query = rule["metricsQuery"].replace("<<.LabelMatchers>>", 'job="ace3d"').replace("<<.GroupBy>>", "instance")
    adapter = prom.query(query)
    assert len(adapter) == 1 and float(adapter[0]["value"][1]) > 0


def test_explanation_quality_signals(served, prom, traffic):
    effects = _values(prom.query(f'sum by (Effect) (ace3d_explained_clips{{ModelName="{served.model}"}})'),
                      "Effect")
    assert set(effects) <= {"prediction_changed", "score_fell", "nothing", "no_concepts"} and effects
    nothing = float(prom.wait_for("ace3d:top_concept_changes_nothing:ratio_rate30m")[0]["value"][1])
    fall = float(prom.wait_for("ace3d:top_concept_fall:p50_30m")[0]["value"][1])
    unknown = float(prom.wait_for("ace3d:unknown_concept_coverage:mean_30m")[0]["value"][1])
    assert 0 <= nothing <= 1 and math.isfinite(fall) and fall <= 1 and 0 <= unknown <= 1
    # the answers themselves agree with what Prometheus was told about the default clip (same video each time)
    clip = traffic["answers"][0].clips[0]
    from ace3d.serving import quality

    assert effects.get(quality.top_concept_effect(clip), 0) >= GOOD


def test_every_rule_loads_and_evaluates(prom, traffic):
    groups = prom.api("rules")["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    declared = yaml.safe_load((MONITORING / "ace3d-rules.yml").read_text())["groups"]
    assert len(rules) == sum(len(g["rules"]) for g in declared)
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad


def _panel_queries() -> list[tuple[str, str]]:
    dash = json.loads((MONITORING / "ace3d-dashboard.json").read_text())
    return [(p["title"], t["expr"]) for p in dash["panels"] if p["type"] != "row" for t in p["targets"]]


def test_every_dashboard_query_runs_and_has_data(prom, traffic):
    failures = []
    for title, expr in _panel_queries():
        query = expr.replace("$__rate_interval", "1m").replace("$model", ".+")
        try:
            result = prom.query(query)
        except AssertionError as e:
            failures.append(str(e))
            continue
        if bool(result) == (title in EXPECTED_EMPTY):
            failures.append(f"{title!r}: {'data' if result else 'no data'} from {query}")
    assert not failures, "\n".join(failures)
