"""The TorchServe configs of the deployment agree with the serving reference, model_store/config.properties.

Sources compared: k8s/base/config.properties and k8s/overlays/gpu/config.properties (the ConfigMaps' files),
the image's default config derived by docker/container_config.py, and the serving reference."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from deploy_helpers import (
    K8S,
    ROOT,
    SERVING_CONFIG,
    config_disagreements,
    get,
    parse_properties,
)

POD_CONFIGS = {"base": K8S / "base" / "config.properties", "gpu": K8S / "overlays" / "gpu" / "config.properties"}
# keys an overlay may set differently from the base (workers and GPUs); everything else must be identical
OVERLAY_KEYS = {"number_of_gpu", "default_workers_per_model"}


def _container_config_module():
    spec = importlib.util.spec_from_file_location("container_config", ROOT / "docker" / "container_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def serving():
    if not SERVING_CONFIG.exists():
        pytest.skip("model_store/config.properties does not exist yet (serving side): nothing to agree with")
    return parse_properties(SERVING_CONFIG.read_text())


def _pod(name):
    return parse_properties(POD_CONFIGS[name].read_text())


@pytest.mark.parametrize("name", sorted(POD_CONFIGS))
def test_pod_config_agrees_with_serving_reference(serving, name):
    problems = config_disagreements(serving, _pod(name))
    assert not problems, (f"k8s config for {name} disagrees with model_store/config.properties:\n  "
                          + "\n  ".join(problems))


def test_agreement_check_catches_each_kind_of_drift(serving):
    """The comparison itself can fail: each mutation of a good pod config is reported."""
    good = _pod("base")
    assert config_disagreements(serving, good) == []
    mutations = {
        "grpc_inference_port": "7075",
        "grpc_inference_address": "127.0.0.1",
        "management_address": "http://0.0.0.0:8081",
        "inference_address": "http://0.0.0.0:9090",
        "metrics_address": "http://127.0.0.1:8082",
        "max_request_size": "6553500",
        "max_response_size": "1",
        "enable_model_api": "true",
        "allowed_urls": "file://.*|http(s)?://.*",
        "metrics_mode": "log",
    }
    for key, value in mutations.items():
        problems = config_disagreements(serving, {**good, key: value})
        assert any(p.startswith(key) for p in problems), f"drift in {key} not reported: {problems}"


def test_pod_configs_lock_down_what_the_cluster_relies_on():
    for name in POD_CONFIGS:
        pod = _pod(name)
        assert get(pod, "enable_model_api") == "false"
        assert get(pod, "metrics_mode") == "prometheus"
        # the kubelet's HTTP probes on /ping need token authorization off (see the file's header)
        assert get(pod, "disable_token_authorization") == "true"
        assert get(pod, "model_store") == "/opt/ace3d/model_store"
        assert (get(pod, "metrics_config") or "").startswith("/opt/ace3d/model_store/")


def test_overlay_configs_differ_from_base_only_in_workers_and_gpus():
    base, gpu = _pod("base"), _pod("gpu")
    differing = {k for k in base.keys() | gpu.keys() if base.get(k) != gpu.get(k)}
    assert differing <= OVERLAY_KEYS, f"gpu config.properties drifted from base in {differing - OVERLAY_KEYS}"
    assert gpu["number_of_gpu"] == "1" and int(gpu["default_workers_per_model"]) >= 1
    assert base["number_of_gpu"] == "0"


def test_image_default_config_is_the_serving_reference_made_reachable(serving):
    module = _container_config_module()
    derived = parse_properties(module.container_config(SERVING_CONFIG.read_text()))
    assert config_disagreements(serving, derived) == []
    # token authorization is left exactly as the serving side set it
    assert get(derived, "disable_token_authorization") == get(serving, "disable_token_authorization")
    assert derived["model_store"] == "/opt/ace3d/model_store"
    # apart from the bind addresses and paths, nothing else changes
    changed = {k for k in serving if serving[k] != derived.get(k)}
    assert changed <= {"inference_address", "metrics_address", "grpc_inference_address", "model_store",
                       "metrics_config"}


def test_container_config_rewrites_loopback_and_relative_paths():
    module = _container_config_module()
    out = parse_properties(module.container_config(
        "inference_address=https://localhost:8443\nmanagement_address=http://127.0.0.1:8081\n"
        "metrics_config=conf/metrics.yaml\n"))
    assert out["inference_address"] == "https://0.0.0.0:8443"
    assert out["management_address"] == "http://127.0.0.1:8081"
    assert out["grpc_inference_address"] == "0.0.0.0"
    assert out["metrics_config"] == "/opt/ace3d/model_store/metrics.yaml"
    assert out["model_store"] == "/opt/ace3d/model_store"


def test_archive_leaves_worker_count_to_the_deployment_config():
    """TorchServe 0.12 lets an archive's model-config.yaml minWorkers/maxWorkers override
    default_workers_per_model: the default archive must not set them, or the GPU overlay's workers per GPU
    would have no effect."""
    path = ROOT / "model_store" / "model-config.yaml"
    if not path.exists():
        pytest.skip("model_store/model-config.yaml does not exist yet")
    model_config = yaml.safe_load(path.read_text()) or {}
    assert "minWorkers" not in model_config and "maxWorkers" not in model_config


def test_hpa_source_metric_is_declared_and_emitted_by_the_handler():
    """The prometheus-adapter rule reads the handler's ace3d_stage_latency_seconds histogram at Stage="total";
    with metrics_config pointing at the serving side's metrics.yaml, only what that file declares is exported,
    and the handler must emit that stage."""
    path = ROOT / "model_store" / "metrics.yaml"
    if not path.exists():
        pytest.skip("model_store/metrics.yaml does not exist yet (serving side)")
    histograms = (yaml.safe_load(path.read_text()).get("model_metrics") or {}).get("histogram") or []
    declared = {m["name"]: m for m in histograms}
    assert "ace3d_stage_latency_seconds" in declared, "model_store/metrics.yaml no longer declares it"
    assert "Stage" in declared["ace3d_stage_latency_seconds"]["dimensions"]
    # the handler emits what the service layer observes: every stage of protocol.STAGES (tests/unit/test_service.py)
    from ace3d.serving import protocol

    assert "total" in protocol.STAGES, "the handler no longer emits Stage=total"
    rules = yaml.safe_load((K8S / "prometheus-adapter" / "rules.yaml").read_text())["rules"]["custom"]
    assert all("ace3d_stage_latency_seconds_sum" in r["metricsQuery"] for r in rules)
