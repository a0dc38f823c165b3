"""Helpers for the deployment tests: Java-properties parsing, the config agreement rules, kustomize renders."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("base", "overlays/gpu", "overlays/cpu")
SERVING_CONFIG = ROOT / "model_store" / "config.properties"
ANY = "0.0.0.0"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# TorchServe 0.12 defaults, for keys a file leaves out
DEFAULTS = {"grpc_inference_port": "7070", "grpc_management_port": "7071", "grpc_inference_address": "127.0.0.1",
            "grpc_management_address": "127.0.0.1", "enable_model_api": "false", "max_request_size": "6553500",
            "max_response_size": "6553500", "metrics_mode": "log", "disable_token_authorization": "false"}


def parse_properties(text: str) -> dict[str, str]:
    """key=value lines as java.util.Properties reads them (comments, `\\` escapes; no continuation lines)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        sep = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        key, value = (line[:sep], line[sep + 1:]) if sep >= 0 else (line, "")
        chars, i, unescaped = value.strip(), 0, []
        while i < len(chars):
            if chars[i] == "\\" and i + 1 < len(chars):
                unescaped.append({"t": "\t", "n": "\n", "r": "\r"}.get(chars[i + 1], chars[i + 1]))
                i += 2
            else:
                unescaped.append(chars[i])
                i += 1
        out[key.strip()] = "".join(unescaped)
    return out


def get(props: dict[str, str], key: str) -> str | None:
    return props.get(key, DEFAULTS.get(key))


def _url(props, key):
    value = get(props, key)
    return urlsplit(value) if value else None


def config_disagreements(serving: dict[str, str], pod: dict[str, str]) -> list[str]:
    """What a pod's config.properties gets wrong against the serving reference (model_store/config.properties).

    Ports, schemes, limits, model API, allowed_urls, metrics mode and metrics file must be equal; management
    (REST and gRPC) must bind the same loopback address; what clients and Prometheus reach (REST inference,
    gRPC inference, metrics) must bind 0.0.0.0 in the pod whatever the reference binds locally."""
    problems = []
    for key in ("inference_address", "management_address", "metrics_address"):
        s, p = _url(serving, key), _url(pod, key)
        if s is None or p is None:
            problems.append(f"{key}: missing (serving {get(serving, key)!r}, pod {get(pod, key)!r})")
            continue
        if (s.scheme, s.port) != (p.scheme, p.port):
            problems.append(f"{key}: scheme/port differ: serving {s.scheme}:{s.port}, pod {p.scheme}:{p.port}")
        if key == "management_address":
            if p.hostname not in LOOPBACK or p.hostname != s.hostname:
                problems.append(f"{key}: pod binds {p.hostname}, must be serving's loopback {s.hostname}")
        elif p.hostname != ANY:
            problems.append(f"{key}: pod binds {p.hostname}, must be {ANY} to be reachable through the Service")
    if get(pod, "grpc_inference_address") != ANY:
        problems.append(f"grpc_inference_address: pod binds {get(pod, 'grpc_inference_address')}, must be {ANY}")
    if get(pod, "grpc_management_address") not in LOOPBACK or (
            get(pod, "grpc_management_address") != get(serving, "grpc_management_address")):
        problems.append(f"grpc_management_address: pod {get(pod, 'grpc_management_address')!r}, serving "
                        f"{get(serving, 'grpc_management_address')!r}: must be the same loopback address")
    for key in ("grpc_inference_port", "grpc_management_port", "max_request_size", "max_response_size",
                "enable_model_api", "allowed_urls", "metrics_mode", "job_queue_size"):
        if get(serving, key) != get(pod, key):
            problems.append(f"{key}: serving {get(serving, key)!r} != pod {get(pod, key)!r}")
    if get(pod, "enable_model_api") != "false":
        problems.append("enable_model_api: must be false in the pod")
    s_metrics, p_metrics = get(serving, "metrics_config"), get(pod, "metrics_config")
    if (s_metrics or "").rsplit("/", 1)[-1] != (p_metrics or "").rsplit("/", 1)[-1]:
        problems.append(f"metrics_config: serving {s_metrics!r} and pod {p_metrics!r} name different files")
    return problems


def kubectl() -> str | None:
    return shutil.which("kubectl")


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    """`kubectl kustomize k8s/OVERLAY`, parsed (cached per test session)."""
    out = subprocess.run([kubectl() or "kubectl", "kustomize", str(K8S / overlay)], check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return tuple(d for d in yaml.safe_load_all(out) if d)


def one(docs, kind: str) -> dict:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]
