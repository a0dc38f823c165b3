"""The image for real: built with podman from the project's Dockerfile (cached between runs), then run the way
the Kubernetes manifests run it (their UID, read-only root, their writable mounts and ConfigMap, their ports,
probes and grace period), and compared with the local server on the same video.

Also: the runtime image carries no test or lint tools and only pinned packages, and the extra CA passed to the
build (the host's added CAs plus a throwaway one made here) is in the image's trust store and used by pip.
Skipped where podman cannot run containers at all (not installed, or `podman info` fails), or where the disk
has too little free space for the build (container_helpers.disk_shortfall), with the reason."""

from __future__ import annotations

import http.server
import json
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from container_helpers import (
    IMAGE,
    base_image,
    build,
    disk_shortfall,
    env,
    extra_ca_pem,
    podman,
    server_cert,
    throwaway_ca,
    unusable_reason,
)
from deploy_helpers import K8S, ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

_REASON = unusable_reason()
if _REASON:
    pytest.skip(f"container test skipped: {_REASON}", allow_module_level=True)

DEPLOYMENT = yaml.safe_load((K8S / "base" / "deployment.yaml").read_text())
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
DEV_TOOLS = ("pytest", "ruff", "grpc_tools", "iniconfig", "pluggy", "pygments")
COMPILERS = ("gcc", "cc", "c++", "g++", "make")


def _log(msg: str) -> None:
    print(f"\n[container] {msg}", flush=True)


@pytest.fixture(scope="module")
def ca():
    return throwaway_ca()


@pytest.fixture(scope="module")
def image(ca) -> str:
    short = disk_shortfall()
    if short:
        pytest.skip(f"container test skipped: {short}")
    build(base_image(_log), extra_ca_pem(ca[0]), _log)
    size = int(podman("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    _log(f"image {IMAGE}: {size / 1e9:.2f} GB")
    return IMAGE


def _in_image(image: str, script: str, *run_args: str, timeout: float = 120):
    return podman("run", "--rm", *run_args, "--entrypoint", "/bin/sh", image, "-c", script, timeout=timeout)


# ------------------------------------------------------------------------------------- the image itself
def test_runtime_image_has_no_dev_tools_and_only_pinned_packages(image):
    probe = ("import importlib.util, json, shutil, importlib.metadata as md; print(json.dumps({"
             f"'modules': [m for m in {DEV_TOOLS!r} if importlib.util.find_spec(m)], "
             f"'programs': [p for p in {COMPILERS!r} if shutil.which(p)], "
             "'dists': {d.metadata['Name']: d.version for d in md.distributions()}}))")
    found = json.loads(podman("run", "--rm", "--entrypoint", "python", image, "-c", probe).stdout)
    assert found["modules"] == [], f"test/lint tools in the runtime image: {found['modules']}"
    assert found["programs"] == [], f"compilers in the runtime image: {found['programs']}"
    installed = {_norm(n): v for n, v in found["dists"].items()}
    installed.pop("ace3d")
    installed.pop("ace3d-client")
    assert installed == _serve_pins(), "the image's packages differ from requirements-serve.txt"
    podman("run", "--rm", "--entrypoint", "pip", image, "check")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _serve_pins() -> dict[str, str]:
    """name -> version of requirements-serve.txt (its hashes left out)."""
    text = (ROOT / "requirements-serve.txt").read_text().replace("\\\n", " ")
    return {_norm(m.group(1)): m.group(2) for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)==(\S+)", text, flags=re.M)}


def test_sbom_of_the_image_lists_exactly_the_serving_pins(image):
    """A CycloneDX SBOM of the image's Python environment (scripts/image_sbom.py: cyclonedx-bom, hash-checked,
    run inside the image from a read-only mount) names exactly the packages and versions of
    requirements-serve.txt, plus ace3d and ace3d-client. docs/DEPLOY.md: verifying an image."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("image_sbom", ROOT / "scripts" / "image_sbom.py")
    sbom_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sbom_mod)
    sbom = sbom_mod.image_sbom(image, ROOT / "out" / "image-sbom.cdx.json", env=env())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["components"]
    assert sbom_mod.differences(sbom) == {"not pinned": [], "missing": []}
    names = {_norm(c["name"]) for c in sbom["components"]}
    assert {"ace3d", "ace3d-client", "torch", "torchserve"} <= names
    # every pinned package is named as PyPI's; the two local projects (installed from the source tree) are not on PyPI
    assert all(c.get("purl", "").startswith("pkg:pypi/") for c in sbom["components"]
               if _norm(c["name"]) not in {"ace3d", "ace3d-client"})


class _Index(http.server.BaseHTTPRequestHandler):
    """An HTTPS package index that knows no package: a request reaching it proves the TLS handshake passed."""

    paths: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's API
        type(self).paths.append(self.path)
        body = b"<!DOCTYPE html><html><body></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_extra_ca_is_trusted_in_the_image_and_by_pip(image, ca, tmp_path):
    pem = ca[0].read_text().strip()
    body = "".join(pem.splitlines()[1:-1])
    stores = _in_image(image, "cat /usr/local/share/ca-certificates/ace3d-extra-*.crt; echo ===; "
                       "cat /etc/ssl/certs/ca-certificates.crt; echo ===; pip config list").stdout
    added, bundle, pip_config = stores.split("===\n")
    assert body in "".join(added.split()) and body in "".join(bundle.split())
    assert "global.cert='/etc/ssl/certs/ca-certificates.crt'" in pip_config

    # pip in the image talks to an HTTPS index whose certificate only the throwaway CA vouches for
    cert, key = server_cert(ca, tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Index.paths = []
    url = f"https://127.0.0.1:{server.server_address[1]}/simple/"
    download = f"pip download --no-deps --retries 0 --dest /tmp/d --index-url {url}"
    certifi = "$(python -c 'import pip._vendor.certifi as c; print(c.where())')"
    # as pip runs by default (the system store through truststore); with pip's own certificate handling, which
    # reads /etc/pip.conf's cert; and, the control, with pip's certifi bundle instead, which must fail
    script = (f"{download} probe-default 2>&1; {download} --use-deprecated=legacy-certs probe-pip-conf 2>&1; "
              f"{download} --use-deprecated=legacy-certs --cert {certifi} probe-certifi 2>&1; true")
    try:
        out = _in_image(image, script, "--network", "host").stdout
        assert "/simple/probe-default/" in _Index.paths, out
        assert "/simple/probe-pip-conf/" in _Index.paths, out
        assert "/simple/probe-certifi/" not in _Index.paths and out.count("CERTIFICATE_VERIFY_FAILED") >= 1, out
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------------------ the running container
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _size_option(limit: str) -> str:
    return limit.replace("Gi", "g").replace("Mi", "m")


def _run_args(name: str, ports: dict[str, int]) -> list[str]:
    """`podman run` options from the manifests: user, read-only root, capabilities, env, ports, mounts."""
    sc, pod_sc = CONTAINER["securityContext"], POD["securityContext"]
    args = ["--detach", "--name", name, "--user", f"{sc['runAsUser']}:{sc['runAsGroup']}",
            "--group-add", str(pod_sc["fsGroup"]), "--memory", _size_option(CONTAINER["resources"]["limits"]["memory"]),
            "--stop-timeout", str(POD["terminationGracePeriodSeconds"])]
    if sc["readOnlyRootFilesystem"]:
        args.append("--read-only")
    if sc["capabilities"]["drop"] == ["ALL"]:
        args += ["--cap-drop", "all"]
    if sc["allowPrivilegeEscalation"] is False:
        args += ["--security-opt", "no-new-privileges"]
    for var in CONTAINER["env"]:
        args += ["--env", f"{var['name']}={var['value']}"]
    for port in CONTAINER["ports"]:
        args += ["--publish", f"127.0.0.1:{ports[port['name']]}:{port['containerPort']}"]
    volumes = {v["name"]: v for v in POD["volumes"]}
    for mount in CONTAINER["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "configMap" in volume:  # the ConfigMap of k8s/base/kustomization.yaml: config.properties
            args += ["--volume", f"{K8S / 'base' / 'config.properties'}:{mount['mountPath']}/config.properties:ro"]
        else:  # an emptyDir: empty (no copy of the image's files), the pod user's (fsGroup), same size limit
            size = _size_option(volume["emptyDir"]["sizeLimit"])
            args += ["--tmpfs", f"{mount['mountPath']}:rw,size={size},U,notmpcopyup"]
    return args


def _get(port: int, path: str, timeout: float) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return 0


def _probe(probe: dict, ports: dict[str, int], name: str) -> int:
    """A manifest's probe against the container: an HTTP GET on the published port, or the exec command run
    inside it (200 when it exits 0, as the kubelet counts it)."""
    if "exec" in probe:
        done = podman("exec", name, *probe["exec"]["command"], check=False, timeout=probe["timeoutSeconds"] + 30)
        return 200 if done.returncode == 0 else 503
    http_get = probe["httpGet"]
    return _get(ports[http_get["port"]], http_get["path"], probe["timeoutSeconds"])


def _worker_statuses(name: str) -> list[str]:
    """The demo model's worker states from the management API, which answers only on the pod's loopback."""
    describe = ("import json, urllib.request; print(json.dumps([w['status'] for w in json.load("
                "urllib.request.urlopen('http://127.0.0.1:8081/models/demo', timeout=10))[0]['workers']]))")
    return json.loads(podman("exec", name, "python", "-c", describe).stdout)


@pytest.fixture(scope="module")
def container(image):
    name = f"ace3d-test-{int(time.time())}"
    ports = {p["name"]: _free_port() for p in CONTAINER["ports"]}
    podman("run", *_run_args(name, ports), image)
    t0 = time.monotonic()
    try:
        startup = CONTAINER["startupProbe"]
        limit = startup["periodSeconds"] * startup["failureThreshold"]
        while _probe(startup, ports, name) != 200:
            state = podman("inspect", "--format", "{{.State.Status}}", name).stdout.strip()
            assert state == "running", f"container {state}:\n" + podman("logs", name, check=False).stdout[-4000:]
            assert time.monotonic() - t0 < limit, "startup probe never passed:\n" + podman("logs", name).stdout[-4000:]
            time.sleep(2)
        workers = _worker_statuses(name)
        _log(f"container {name} started, startup probe passed in {time.monotonic() - t0:.0f} s "
             f"(worker status then: {workers}); ports {ports}")
        yield name, ports, workers
    finally:
        podman("rm", "--force", "--time", "5", name, check=False, timeout=120)


def test_container_runs_as_the_manifests_say(container):
    name, ports, _ = container
    sc = CONTAINER["securityContext"]
    ids = podman("exec", name, "sh", "-c", "id -u; id -g").stdout.split()
    assert ids == [str(sc["runAsUser"]), str(sc["runAsGroup"])]
    refused = podman("exec", name, "sh", "-c", "touch /opt/ace3d/x", check=False)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    for mount in CONTAINER["volumeMounts"]:
        if not mount.get("readOnly"):  # the emptyDirs take the service's writes
            podman("exec", name, "sh", "-c", f"touch {mount['mountPath']}/.w && rm {mount['mountPath']}/.w")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert _probe(CONTAINER[probe], ports, name) == 200, probe
    assert podman("healthcheck", "run", name, check=False).returncode == 0  # the image's own HEALTHCHECK
    metrics = urllib.request.urlopen(f"http://127.0.0.1:{ports['metrics']}/metrics", timeout=10).read().decode()
    assert "ts_inference_requests_total" in metrics or "# TYPE" in metrics


def test_probes_pass_only_once_the_model_has_a_ready_worker(container):
    """TorchServe 0.12's /ping passes while the worker still loads the model: the manifests' startup probe must
    not (docker/healthcheck.py --ready)."""
    _, _, workers_when_probe_passed = container
    assert workers_when_probe_passed and set(workers_when_probe_passed) == {"READY"}


def _local_explanation(tmp: Path, video: bytes):
    """The same video explained by the local server (`make serve`'s TorchServe with the same default archive)."""
    from ace3d_client.client import Ace3dClient

    from ace3d.models import ASSETS
    from ace3d.tooling.archive import build_archive
    from ace3d.tooling.server import LocalServer, Ports

    build_archive("demo", ASSETS / "demo_bank.npz", "demo", tmp / "store", check=False)
    server = LocalServer(runtime=tmp / "runtime", model_store=tmp / "store", models={"demo": "demo.mar"},
                         ports=Ports.free())
    server.start(timeout=300)
    try:
        with Ace3dClient(server.grpc_target, "demo", token=server.keys()["inference"], deadline=300) as client:
            return client.explain(video)
    finally:
        server.stop()


def _comparable(exp) -> dict:
    from google.protobuf.json_format import MessageToDict

    d = MessageToDict(exp, preserving_proto_field_name=True)
    d.pop("timings_ms", None)
    return d


def _assert_close(a, b, where: str = "") -> None:
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-3, abs=1e-4), where
    elif isinstance(a, dict):
        assert sorted(a) == sorted(b), where
        for k in a:
            _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_container_explains_like_the_local_server_and_stops_on_sigterm(container, tmp_path):
    from ace3d_client.client import Ace3dClient

    from ace3d.jobs.synth import default_video_bytes

    name, ports, _ = container
    video = default_video_bytes()
    # the local server starts and answers meanwhile (it waits on its own startup, not on the container)
    local: dict = {}

    def explain_locally() -> None:
        local.update(exp=_local_explanation(tmp_path, video), t=time.monotonic())

    reference = threading.Thread(target=explain_locally)
    reference.start()
    # preStop runs while the pod still serves; the explanation goes on meanwhile
    pre_stop = CONTAINER["lifecycle"]["preStop"]["exec"]["command"]
    t_stop = time.monotonic()
    hook = threading.Thread(target=podman, args=("exec", name, *pre_stop), kwargs={"timeout": 120})
    hook.start()
    with Ace3dClient(f"127.0.0.1:{ports['grpc']}", "demo", token=None, deadline=300) as client:
        served = client.explain(video)
    _log(f"container's explanation: {time.monotonic() - t_stop:.0f} s")
    hook.join()

    # then SIGTERM, as the kubelet sends it after preStop: a clean stop within the grace period
    grace = POD["terminationGracePeriodSeconds"]
    t_term = time.monotonic()
    podman("kill", "--signal", "TERM", name)
    podman("wait", name, timeout=grace)
    stopped_in = time.monotonic() - t_stop
    state = json.loads(podman("inspect", "--format", "{{json .State}}", name).stdout)
    logs = podman("logs", name).stdout + podman("logs", name).stderr
    _log(f"preStop + stop: {stopped_in:.0f} s (SIGTERM to exit {time.monotonic() - t_term:.0f} s; grace {grace} s), "
         f"exit code {state['ExitCode']}")
    assert "entrypoint: signal received" in logs, logs[-3000:]
    assert state["ExitCode"] == 0, logs[-3000:]
    assert stopped_in < grace

    reference.join()
    assert "exp" in local, "the local server gave no explanation (its error is above)"
    _log(f"local server's explanation: {local['t'] - t_stop:.0f} s")
    local = local["exp"]
    assert served.target_class == local.target_class and served.clips
    _assert_close(_comparable(served), _comparable(local))
