"""Write k8s/monitoring/'s two generated manifests from the plain files of monitoring/, so that Kubernetes gets
exactly the rules and the dashboard that promtool and the tests check:

* prometheusrule.yaml: a Prometheus Operator `PrometheusRule` whose spec.groups are monitoring/ace3d-rules.yml's
* grafana-dashboard.yaml: a ConfigMap with monitoring/ace3d-dashboard.json, labelled grafana_dashboard: "1"
  for the Grafana sidecar (kube-prometheus-stack's grafana.sidecar.dashboards)

    python scripts/render_monitoring.py          # write them (make monitoring-manifests)
    python scripts/render_monitoring.py --check  # exit 1 when they are stale (tests/monitoring does the same)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "monitoring" / "ace3d-rules.yml"
DASHBOARD = ROOT / "monitoring" / "ace3d-dashboard.json"
OUT = ROOT / "k8s" / "monitoring"
HEADER = "# Generated from {src} by `make monitoring-manifests` (scripts/render_monitoring.py): edit the source.\n"


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PromQL, the dashboard) as literal blocks, so the manifests stay readable."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def prometheus_rule() -> str:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
           "metadata": {"name": "ace3d"}, "spec": {"groups": groups}}
    return HEADER.format(src="monitoring/ace3d-rules.yml") + _dump(doc)


def dashboard_configmap() -> str:
    dashboard = json.loads(DASHBOARD.read_text())  # parsed first: a broken JSON never reaches a cluster
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "ace3d-grafana-dashboard", "labels": {"grafana_dashboard": "1"}},
           "data": {DASHBOARD.name: json.dumps(dashboard, indent=2) + "\n"}}
    return HEADER.format(src="monitoring/ace3d-dashboard.json") + _dump(doc)


def rendered() -> dict[Path, str]:
    return {OUT / "prometheusrule.yaml": prometheus_rule(), OUT / "grafana-dashboard.yaml": dashboard_configmap()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    stale = [p for p, text in rendered().items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"STALE {p.relative_to(ROOT)}: run make monitoring-manifests")
        return 1 if stale else 0
    for p, text in rendered().items():
        p.write_text(text)
        print(f"wrote {p.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
