"""The container entrypoint and health check against a real TorchServe 0.12 (no Docker needed).

docker/entrypoint.sh is started the way tini starts it in the image, with a tiny archive whose handler sleeps,
token authorization ON (TorchServe's default and the image's default config). Checked:
  - docker/healthcheck.py reads key_file.json from $HOME and reports healthy once the model is up;
  - the premises of the Kubernetes probes: /ping needs the key when token authorization is on, while
    /api-description (liveness) and the metrics port answer without one;
  - SIGTERM to the entrypoint drains: a gRPC call already in flight completes, the entrypoint exits 0 and no
    TorchServe process is left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.integration, pytest.mark.slow]

HANDLER = '''
import time

def handle(data, context):
    if data is None:
        return None
    time.sleep(3.0)
    return ["slept" for _ in data]
'''


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _get(url: str, key: str | None = None) -> int:
    request = urllib.request.Request(url)
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0  # not listening (yet)


def _archive(base: Path) -> Path:
    store = base / "store"
    store.mkdir()
    (base / "slow_handler.py").write_text(HANDLER)
    subprocess.run([str(VENV_BIN / "torch-model-archiver"), "--model-name", "slow", "--version", "1.0",
                    "--handler", str(base / "slow_handler.py"), "--export-path", str(store)],
                   check=True, cwd=base)
    return store


def _start(base: Path, config_text: str, ports: dict):
    """Start docker/entrypoint.sh as the image does, with HOME and TMPDIR of its own (TorchServe's pid file
    lives in TMPDIR, so other TorchServe instances on the machine are not disturbed)."""
    if shutil.which("java") is None or not (VENV_BIN / "torchserve").exists():
        pytest.skip("needs java and torchserve in the test interpreter's venv")
    home, tmp = base / "home", base / "tmp"
    home.mkdir()
    tmp.mkdir()
    store = _archive(base)
    config = base / "config.properties"
    config.write_text(config_text)
    env = {**os.environ,
           "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           "HOME": str(home), "TMPDIR": str(tmp), "TEMP": str(tmp), "LOG_LOCATION": str(home / "logs"),
           "METRICS_LOCATION": str(home / "logs"), "MPLCONFIGDIR": str(tmp / "mpl"),
           "ACE3D_TS_CONFIG": str(config), "ACE3D_MODEL_STORE": str(store), "ACE3D_MODELS": "slow=slow.mar",
           "ACE3D_HEALTH_URL": f"http://127.0.0.1:{ports['rest']}/ping"}
    log = open(base / "entrypoint.log", "wb")  # noqa: SIM115 - closed in _stop
    proc = subprocess.Popen(["sh", str(ROOT / "docker" / "entrypoint.sh")], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return {"proc": proc, "env": env, "home": home, "tmp": tmp, "log": base / "entrypoint.log", "log_file": log,
            **ports}


def _stop(info) -> None:
    # the whole session (entrypoint, torchserve, java, workers), also when the entrypoint died alone
    try:
        os.killpg(info["proc"].pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    info["proc"].wait(timeout=30)
    info["log_file"].close()


def _ports() -> dict:
    rest, mgmt, metrics, grpc_inf, grpc_mgmt = _free_ports(5)
    return {"rest": rest, "mgmt": mgmt, "metrics": metrics, "grpc": grpc_inf, "grpc_mgmt": grpc_mgmt}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Token authorization ON, as in the image's default config (the serving reference's choice)."""
    ports = _ports()
    config = "\n".join([
        f"inference_address=http://127.0.0.1:{ports['rest']}",
        f"management_address=http://127.0.0.1:{ports['mgmt']}",
        f"metrics_address=http://127.0.0.1:{ports['metrics']}",
        "grpc_inference_address=127.0.0.1",
        f"grpc_inference_port={ports['grpc']}",
        "grpc_management_address=127.0.0.1",
        f"grpc_management_port={ports['grpc_mgmt']}",
        "metrics_mode=prometheus",
        "enable_model_api=false",
        "default_workers_per_model=1",
        "",
    ])
    info = _start(tmp_path_factory.mktemp("entrypoint"), config, ports)
    try:
        yield info
    finally:
        _stop(info)


@pytest.fixture(scope="module")
def k8s_server(tmp_path_factory):
    """The Kubernetes ConfigMap's own config.properties (k8s/base), with only ports, bind addresses and paths
    moved so that it runs here."""
    ports = _ports()
    base = tmp_path_factory.mktemp("entrypoint_k8s")
    replace = {
        "inference_address": f"http://127.0.0.1:{ports['rest']}",
        "management_address": f"http://127.0.0.1:{ports['mgmt']}",
        "metrics_address": f"http://127.0.0.1:{ports['metrics']}",
        "grpc_inference_address": "127.0.0.1",
        "grpc_inference_port": str(ports["grpc"]),
        "grpc_management_port": str(ports["grpc_mgmt"]),
        "model_store": str(base / "store"),
    }
    lines = []
    for line in (ROOT / "k8s" / "base" / "config.properties").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key == "metrics_config":  # the image's path; TorchServe's default metrics config serves here
            continue
        lines.append(f"{key}={replace[key]}" if key in replace else line)
    info = _start(base, "\n".join(lines) + "\n", ports)
    try:
        yield info
    finally:
        _stop(info)


def _healthcheck(info) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "docker" / "healthcheck.py")], env=info["env"],
                          cwd=info["home"], capture_output=True, text=True, timeout=30)


def _wait_healthy(info, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if info["proc"].poll() is not None:
            pytest.fail("entrypoint exited early:\n" + info["log"].read_text()[-3000:])
        if _healthcheck(info).returncode == 0:
            return
        time.sleep(1.0)
    pytest.fail("model never became healthy:\n" + info["log"].read_text()[-3000:])


def test_healthcheck_uses_the_key_file_and_probe_premises_hold(server):
    _wait_healthy(server)
    result = _healthcheck(server)
    assert result.returncode == 0 and "healthy: 200" in result.stdout
    key = json.loads((server["home"] / "key_file.json").read_text())["inference"]["key"]
    rest, metrics = server["rest"], server["metrics"]
    # with token authorization on, /ping itself needs the inference key (TorchServe 0.12) ...
    assert _get(f"http://127.0.0.1:{rest}/ping") == 400
    assert _get(f"http://127.0.0.1:{rest}/ping", key) == 200
    # ... while the liveness endpoint and the metrics port answer without one
    assert _get(f"http://127.0.0.1:{rest}/api-description") == 200
    assert _get(f"http://127.0.0.1:{metrics}/metrics") == 200
    # and a wrong key is refused by the health check's own path
    broken = dict(server["env"], HOME=str(server["tmp"]))  # no key_file.json there
    assert subprocess.run([sys.executable, str(ROOT / "docker" / "healthcheck.py")], env=broken,
                          capture_output=True, timeout=30).returncode == 1


def test_sigterm_drains_in_flight_grpc_call_then_exits_zero(server):
    grpc = pytest.importorskip("grpc")
    from ace3d.v1 import inference_pb2, inference_pb2_grpc

    _wait_healthy(server)
    key = json.loads((server["home"] / "key_file.json").read_text())["inference"]["key"]
    channel = grpc.insecure_channel(f"127.0.0.1:{server['grpc']}")
    stub = inference_pb2_grpc.InferenceAPIsServiceStub(channel)
    outcome: dict = {}

    def call():
        try:
            response = stub.Predictions(inference_pb2.PredictionsRequest(model_name="slow", input={"data": b"x"}),
                                        metadata=[("authorization", f"Bearer {key}")], timeout=60)
            outcome["prediction"] = response.prediction
        except grpc.RpcError as e:  # pragma: no cover - reported by the assertion below
            outcome["error"] = f"{e.code()}: {e.details()}"

    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(1.0)  # the handler is now sleeping inside the request
    pid_file = server["tmp"] / ".model_server.pid"
    java_pid = int(pid_file.read_text().strip())
    started = time.monotonic()
    server["proc"].send_signal(signal.SIGTERM)
    thread.join(timeout=60)
    status = server["proc"].wait(timeout=90)
    channel.close()
    log = server["log"].read_text()
    assert outcome.get("prediction") == b"slept", f"in-flight call not drained: {outcome}\n{log[-3000:]}"
    assert status == 0, log[-3000:]
    assert "signal received, stopping TorchServe" in log
    # TorchServe's own logs went to stdout (docker/log4j2.xml), none to files in the small emptyDir
    assert "ACCESS_LOG" in log and "StatusLogger" not in log, "docker/log4j2.xml was not used"
    assert not list((server["home"] / "logs").glob("*.log"))
    assert time.monotonic() - started < 60
    with pytest.raises(ProcessLookupError):
        os.kill(java_pid, 0)


def test_k8s_config_probes_need_no_key_and_management_stays_closed(k8s_server):
    """What the Deployment's probes rely on, with the ConfigMap's real settings: /ping (startup, readiness)
    answers 200 without any key once the model is up, /api-description (liveness) too, no key file is written,
    and the model API stays off (registering a model is refused)."""
    rest, mgmt = k8s_server["rest"], k8s_server["mgmt"]
    deadline = time.monotonic() + 180
    while (code := _get(f"http://127.0.0.1:{rest}/ping")) != 200:
        assert code != 400, "/ping wants a token: the kubelet's HTTP probes could never pass"
        if k8s_server["proc"].poll() is not None or time.monotonic() > deadline:
            pytest.fail("never ready:\n" + k8s_server["log"].read_text()[-3000:])
        time.sleep(1.0)
    assert _get(f"http://127.0.0.1:{rest}/api-description") == 200
    assert _get(f"http://127.0.0.1:{k8s_server['metrics']}/metrics") == 200
    assert not (k8s_server["home"] / "key_file.json").exists()
    register = urllib.request.Request(f"http://127.0.0.1:{mgmt}/models?url=slow.mar", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(register, timeout=10)
    assert refused.value.code == 405
    # and the image's health check works against it as well (no key file: no header)
    assert _healthcheck(k8s_server).returncode == 0
