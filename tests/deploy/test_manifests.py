"""The rendered Kubernetes manifests (kubectl kustomize, every overlay) have what the deployment issue asks
for, and their parts refer to each other consistently (ports, labels, names, metric names, config)."""

from __future__ import annotations

import re

import pytest
import yaml
from deploy_helpers import K8S, OVERLAYS, ROOT, kubectl, one, parse_properties, render
from deploy_helpers import get as prop

pytestmark = pytest.mark.skipif(kubectl() is None, reason="kubectl not found: cannot render k8s/ with kustomize")

PUBLIC_PORTS = {"grpc": 7070, "http": 8080, "metrics": 8082}


def _labels_match(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _pod_spec(docs):
    return one(docs, "Deployment")["spec"]["template"]["spec"]


def _container(docs):
    (container,) = _pod_spec(docs)["containers"]
    return container


def _config(docs) -> dict[str, str]:
    return parse_properties(one(docs, "ConfigMap")["data"]["config.properties"])


@pytest.fixture(scope="module", params=OVERLAYS)
def docs(request):
    return render(request.param)


def test_every_overlay_has_the_objects_of_the_issue(docs):
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "NetworkPolicy",
                            "PodDisruptionBudget", "Service", "ServiceAccount", "ServiceMonitor"])
    assert one(docs, "HorizontalPodAutoscaler")["apiVersion"] == "autoscaling/v2"
    assert one(docs, "ServiceMonitor")["apiVersion"] == "monitoring.coreos.com/v1"
    assert {d["metadata"].get("namespace") for d in docs} == {"ace3d"}
    # never a key in the repository: no Secret objects with data at all
    assert not [d for d in docs if d["kind"] == "Secret"]


def test_container_ports_are_exactly_grpc_rest_metrics_and_match_the_config(docs):
    ports = {p["name"]: p["containerPort"] for p in _container(docs)["ports"]}
    assert ports == PUBLIC_PORTS
    config = _config(docs)
    assert int(prop(config, "grpc_inference_port")) == ports["grpc"]
    assert int(prop(config, "inference_address").rsplit(":", 1)[1]) == ports["http"]
    assert int(prop(config, "metrics_address").rsplit(":", 1)[1]) == ports["metrics"]
    assert prop(config, "management_address").startswith("http://127.0.0.1:")


def test_service_names_grpc_with_app_protocol_and_selects_the_pods(docs):
    service = one(docs, "Service")
    ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert set(ports) == set(PUBLIC_PORTS)
    assert ports["grpc"]["appProtocol"] == "grpc" and ports["grpc"]["port"] == 7070
    container_port_names = {p["name"] for p in _container(docs)["ports"]}
    assert {p["targetPort"] for p in ports.values()} <= container_port_names
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert _labels_match(service["spec"]["selector"], pod_labels)


def test_probes_fit_the_authorization_mode_and_model_loading(docs):
    container = _container(docs)
    config = _config(docs)
    startup, ready, live = (container[k] for k in ("startupProbe", "readinessProbe", "livenessProbe"))
    # startup and readiness: /ping, then a READY worker per model (/ping alone passes while the model loads)
    ready_check = ["python", "/opt/ace3d/docker/healthcheck.py", "--ready"]
    assert startup["exec"]["command"] == ready["exec"]["command"] == ready_check
    assert live["httpGet"]["port"] == "http"
    assert prop(config, "disable_token_authorization") == "true"
    # liveness must not depend on workers or keys: the frontend's own /api-description
    assert live["httpGet"]["path"] == "/api-description"
    # model loading may take minutes before liveness starts counting
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    pod = _pod_spec(docs)
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + 120


def test_security_context_and_writable_paths(docs):
    pod = _pod_spec(docs)
    container = _container(docs)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    sc = container["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == _dockerfile_uid()
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    for path in ("/tmp", "/home/ace3d"):  # TorchServe's writes: unpacked archives, pid file, logs, key file
        assert "emptyDir" in volumes[mounts[path]], path
    config_mount = next(m for m in container["volumeMounts"] if "configMap" in volumes[m["name"]])
    assert volumes[config_mount["name"]]["configMap"]["name"] == one(docs, "ConfigMap")["metadata"]["name"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ACE3D_TS_CONFIG"] == config_mount["mountPath"] + "/config.properties"


def test_resources_and_no_service_account_token(docs):
    resources = _container(docs)["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources[kind]), kind
    pod = _pod_spec(docs)
    assert pod["automountServiceAccountToken"] is False
    account = one(docs, "ServiceAccount")
    assert account["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == account["metadata"]["name"]


def test_pdb_and_hpa_target_the_deployment(docs):
    deployment = one(docs, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    pdb = one(docs, "PodDisruptionBudget")
    assert _labels_match(pdb["spec"]["selector"]["matchLabels"], pod_labels)
    hpa = one(docs, "HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": deployment["metadata"]["name"]}
    assert 1 <= hpa["minReplicas"] < hpa["maxReplicas"]
    (metric,) = hpa["metrics"]
    assert metric["type"] == "Pods"
    rules = yaml.safe_load((K8S / "prometheus-adapter" / "rules.yaml").read_text())["rules"]["custom"]
    exposed = {r["name"]["as"] for r in rules}
    assert metric["pods"]["metric"]["name"] in exposed, "HPA metric is not defined by the prometheus-adapter rule"
    for rule in rules:  # the handler's per-request wall time, which gRPC and REST requests both feed
        assert 'ace3d_stage_latency_seconds_sum{Stage="total"' in rule["metricsQuery"]
        assert "ts_queue_latency_microseconds" not in rule["metricsQuery"], "REST-only in TorchServe 0.12"


def _quantity(value) -> float:
    text = str(value)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def test_hpa_target_is_below_the_pods_worker_count(docs):
    """ace3d_busy_workers approaches the pod's worker count at saturation: the target must sit below it."""
    (metric,) = one(docs, "HorizontalPodAutoscaler")["spec"]["metrics"]
    target = _quantity(metric["pods"]["target"]["averageValue"])
    workers = int(_config(docs)["default_workers_per_model"])
    assert 0.5 * workers <= target < workers, (target, workers)


def test_service_monitor_scrapes_the_metrics_port(docs):
    monitor = one(docs, "ServiceMonitor")["spec"]
    service = one(docs, "Service")
    assert _labels_match(monitor["selector"]["matchLabels"], service["metadata"]["labels"])
    (endpoint,) = monitor["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    assert "metrics" in {p["name"] for p in service["spec"]["ports"]}


def test_network_policy_admits_only_clients_and_monitoring(docs):
    policy = one(docs, "NetworkPolicy")["spec"]
    pod_labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert _labels_match(policy["podSelector"]["matchLabels"], pod_labels)
    assert policy["policyTypes"] == ["Ingress"]
    admitted = {}
    for rule in policy["ingress"]:
        assert rule.get("from"), "an ingress rule without `from` admits everyone"
        for peer in rule["from"]:
            assert set(peer) == {"namespaceSelector"} and peer["namespaceSelector"]["matchLabels"]
        ports = frozenset(p["port"] for p in rule["ports"])
        admitted[ports] = [peer["namespaceSelector"]["matchLabels"] for peer in rule["from"]]
    assert admitted == {frozenset({"grpc", "http"}): [{"ace3d.io/client": "true"}],
                        frozenset({"metrics"}): [{"kubernetes.io/metadata.name": "monitoring"}]}


def test_gpu_overlay_requests_a_gpu_on_gpu_nodes_with_workers_in_the_config():
    docs = render("overlays/gpu")
    pod = _pod_spec(docs)
    resources = _container(docs)["resources"]
    assert str(resources["limits"]["nvidia.com/gpu"]) == "1"
    assert pod["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    config = _config(docs)
    assert config["number_of_gpu"] == "1" and int(config["default_workers_per_model"]) >= 1
    assert one(docs, "ConfigMap")["metadata"]["name"] != one(render("base"), "ConfigMap")["metadata"]["name"]


def test_cpu_overlay_needs_no_gpu():
    docs = render("overlays/cpu")
    assert "nvidia.com/gpu" not in yaml.safe_dump(_container(docs)["resources"])
    assert _config(docs)["number_of_gpu"] == "0"
    assert "nodeSelector" not in _pod_spec(docs)


def _dockerfile_uid() -> int:
    users = re.findall(r"^USER\s+(\d+)", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert users, "the Dockerfile must switch to a numeric non-root USER"
    return int(users[-1])


def test_torch_threads_times_workers_fit_the_cpu_limit(docs):
    container = _container(docs)
    env = {e["name"]: e.get("value") for e in container["env"]}
    threads = int(env["OMP_NUM_THREADS"])
    workers = int(_config(docs)["default_workers_per_model"])
    assert threads * workers <= _quantity(container["resources"]["limits"]["cpu"])
