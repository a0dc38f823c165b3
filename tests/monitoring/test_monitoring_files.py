"""The monitoring files without a running service: promtool checks the scrape configuration and the rules and
runs the rules' unit tests (monitoring/ace3d-rules.test.yml); the Kubernetes manifests are exactly what
scripts/render_monitoring.py makes of them and pass the PrometheusRule schema (which refuses broken rules);
every metric the rules and the dashboard read is one the service declares; docs/OPERATIONS.md documents
every alert and every dashboard panel. (tests/integration/test_prometheus.py runs them against a real
Prometheus scraping a real server.)"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "monitoring"
RULES = MON / "ace3d-rules.yml"
DASHBOARD = MON / "ace3d-dashboard.json"
OPERATIONS = ROOT / "docs" / "OPERATIONS.md"
PROMTOOL = shutil.which("promtool")


def _promtool(*args: str) -> str:
    if PROMTOOL is None:
        pytest.fail("promtool is not installed: run `make sysdeps` (Debian's prometheus, debian-packages.txt)")
    out = subprocess.run([PROMTOOL, *args], cwd=MON, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


def _render():
    spec = importlib.util.spec_from_file_location("render_monitoring", ROOT / "scripts" / "render_monitoring.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def _alerts() -> list[str]:
    return [r["alert"] for r in _rules() if "alert" in r]


def _panels() -> list[dict]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def test_promtool_checks_the_config_and_the_rules():
    assert "SUCCESS" in _promtool("check", "config", "prometheus.yml")
    out = _promtool("check", "rules", RULES.name)
    assert f"SUCCESS: {len(_rules())} rules found" in out


def test_promtool_unit_tests_of_the_rules():
    assert "SUCCESS" in _promtool("test", "rules", "ace3d-rules.test.yml")


def test_every_alert_has_a_unit_test_that_fires_it():
    tests = yaml.safe_load((MON / "ace3d-rules.test.yml").read_text())["tests"]
    fired = {t["alertname"] for g in tests for t in g.get("alert_rule_test", []) if t["exp_alerts"]}
    assert fired == set(_alerts())


def test_every_alert_has_severity_summary_and_runbook():
    for rule in _rules():
        if "alert" in rule:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
            assert rule["annotations"]["runbook_url"] == f"docs/OPERATIONS.md#{rule['alert'].lower()}"


def test_kubernetes_manifests_are_rendered_from_the_plain_files():
    render = _render()
    for path, text in render.rendered().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)} is stale: run make monitoring-manifests"
    rule = yaml.safe_load((ROOT / "k8s" / "monitoring" / "prometheusrule.yaml").read_text())
    assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    cm = yaml.safe_load((ROOT / "k8s" / "monitoring" / "grafana-dashboard.yaml").read_text())
    assert cm["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert json.loads(cm["data"][DASHBOARD.name]) == json.loads(DASHBOARD.read_text())


def test_prometheus_rule_schema_accepts_ours_and_refuses_broken_rules():
    schema = json.loads((ROOT / "k8s" / "schemas" / "prometheusrule-monitoring.coreos.com-v1.json").read_text())
    good = yaml.safe_load((ROOT / "k8s" / "monitoring" / "prometheusrule.yaml").read_text())
    jsonschema.Draft202012Validator(schema).validate(good)

    def broken(edit) -> dict:
        doc = copy.deepcopy(good)
        edit(doc["spec"]["groups"][1]["rules"][0])
        return doc

    for edit in (lambda r: r.update(record="x"),  # both alert and record
                 lambda r: r.pop("expr"),
                 lambda r: r.update(fro="5m"),  # a typo of `for`
                 lambda r: r.update({"for": "5 minutes"})):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(schema).validate(broken(edit))


def _declared_metrics() -> set[str]:
    """Series names the service exports: the handler's metrics (histograms as _bucket/_sum/_count) and the
    TorchServe metrics of model_store/metrics.yaml, plus Prometheus's own `up`."""
    spec = yaml.safe_load((ROOT / "model_store" / "metrics.yaml").read_text())
    names = {"up"}
    for section in ("ts_metrics", "model_metrics"):
        for kind, entries in spec[section].items():
            for e in entries:
                names.add(e["name"])
                if kind == "histogram":
                    names.update(e["name"] + s for s in ("_bucket", "_sum", "_count"))
    return names


def _series_in(expr: str) -> set[str]:
    """Metric names an expression reads (recording rules' names contain a colon and are skipped)."""
    words = set(re.findall(r"(?<![\w:])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[)", expr))
    keywords = {"by", "without", "on", "ignoring", "group_left", "group_right"}
    return {w for w in words if w not in keywords and ":" not in w}


def test_rules_and_dashboard_read_only_metrics_the_service_declares():
    declared = _declared_metrics()
    recorded = {r["record"] for r in _rules() if "record" in r}
    exprs = [r["expr"] for r in _rules()] + [t["expr"] for p in _panels() for t in p["targets"]]
    for expr in exprs:
        unknown = _series_in(expr) - declared
        assert not unknown, f"{sorted(unknown)} in {expr}"
    for p in _panels():  # recording rules the dashboard uses exist
        for t in p["targets"]:
            for name in re.findall(r"\b(ace3d:[a-z0-9_:]+)", t["expr"]):
                assert name in recorded, (p["title"], name)


def test_operations_doc_explains_every_alert_and_panel():
    text = OPERATIONS.read_text()
    headings = {h.strip() for h in re.findall(r"^#+ (.+)$", text, re.M)}
    for alert in _alerts():
        assert alert in headings, f"docs/OPERATIONS.md has no section for alert {alert}"
    flat = " ".join(text.split())  # titles may wrap across lines
    for p in _panels():
        assert p["title"] in flat, f"docs/OPERATIONS.md does not mention the panel {p['title']!r}"
    for rule in _rules():
        if "record" in rule:
            assert rule["record"] in text, f"recording rule {rule['record']} is not documented"
    for metric in ("ace3d_top_concept_fall", "ace3d_explained_clips", "ace3d_unknown_concept_coverage",
                   "ace3d_requests", "ace3d_startup_failures", "ace3d_collapsed_maps"):
        assert metric in text, metric
    # no alert documented that the rules do not have
    documented = set(re.findall(r"^#+ (Ace3d[A-Za-z0-9]+)\s*$", text, re.M))
    assert documented == set(_alerts())


def test_the_collapsed_maps_alert_reads_the_counter_the_service_emits():
    """Ace3dConceptMapsCollapsed fires on the share of explained clips flagged collapsed: its rule reads
    ace3d_collapsed_maps, which the service counts once per flagged clip (ace3d/serving/service.py)."""
    rules = {r.get("alert") or r["record"]: r for r in _rules()}
    alert = rules["Ace3dConceptMapsCollapsed"]
    assert "ace3d:collapsed_maps:ratio_rate30m" in alert["expr"]
    ratio = rules["ace3d:collapsed_maps:ratio_rate30m"]["expr"]
    assert {"ace3d_collapsed_maps", "ace3d_explained_clips"} <= _series_in(ratio) <= _declared_metrics()
