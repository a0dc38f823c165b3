"""Static checks of the Dockerfile and its build context (no Docker engine here: hadolint lints it in
`make lint-deploy`, these tests check what the deployment relies on), and the health check script."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import xml.dom.minidom

import pytest
from deploy_helpers import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
# instructions with their continuation lines joined
INSTRUCTIONS = [re.sub(r"\\\n\s*", " ", m) for m in
                re.findall(r"^[A-Z]+\b(?:[^\n]*\\\n)*[^\n]*", DOCKERFILE, flags=re.M)]


def _all(word: str) -> list[str]:
    return [i for i in INSTRUCTIONS if i.split()[0] == word]


def _arg_default(name: str) -> str:
    (arg,) = [i for i in _all("ARG") if i.split()[1].startswith(name + "=")]
    return arg.split("=", 1)[1].strip('"')


def test_multi_stage_python311_with_java17_runtime():
    froms = _all("FROM")
    assert len(froms) >= 2
    # the base is a build argument (a stand-in where no registry is reachable); its default is Docker Hub's
    assert re.fullmatch(r"python:3\.11-slim-bookworm", _arg_default("BASE_IMAGE"))
    assert all(f.split()[1] == "${BASE_IMAGE}" for f in froms)
    assert froms[-1].endswith("AS runtime")
    runtime = DOCKERFILE[DOCKERFILE.index(froms[-1].split(" AS ")[0] + " AS runtime"):]
    assert "openjdk-17-jre-headless" in runtime and "tini" in runtime


def test_dependencies_from_the_pinned_requirements_and_default_archive_built_in():
    runs = " ".join(" ".join(_all("RUN")).split())
    # the serving requirements only, every file hash-checked: downloaded and built into wheels in the builder,
    # installed without an index from the builder's lock of those wheels
    assert "pip download --no-cache-dir --require-hashes --no-deps --dest /opt/downloads -r requirements-serve.txt" \
        in runs
    assert ("pip wheel --no-cache-dir --require-hashes --no-deps --no-build-isolation --no-index "
            "--find-links /opt/downloads --wheel-dir /opt/wheels -r requirements-serve.txt") in runs
    assert "python wheel_lock.py requirements-serve.txt /opt/wheels > /opt/wheels/requirements.lock" in runs
    assert ("pip install --no-cache-dir --require-hashes --no-deps --no-index --only-binary :all: "
            "--find-links /opt/wheels -r /opt/wheels/requirements.lock") in runs
    assert "ace3d archive --model demo --bank ace3d/assets/demo_bank.npz --name demo" in runs
    assert "COPY requirements-serve.txt docker/wheel_lock.py ./" in INSTRUCTIONS
    assert "requirements.txt" not in " ".join(_all("COPY")).replace("requirements-serve.txt", "")


def _pins(name: str) -> list[str]:
    """The file's requirements without their hashes (each pin must carry one: `--hash=sha256:...`)."""
    text = (ROOT / name).read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            req, *hashes = line.split("--hash=")
            assert req.startswith("-r") or (hashes and all(h.strip().startswith("sha256:") for h in hashes)), line
            out.append(req.strip())
    return out


def test_requirements_split_fully_pinned_and_nothing_twice():
    serve, dev = _pins("requirements-serve.txt"), _pins("requirements.txt")
    assert dev[0] == "-r requirements-serve.txt"
    names = [re.sub(r"[-_.]+", "-", p.split("==")[0].split("[")[0]).lower() for p in serve + dev[1:]]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+(\[[a-z0-9,_-]+\])?==[A-Za-z0-9_.+!-]+", p) for p in serve + dev[1:])
    assert len(names) == len(set(names)), "a package listed twice"
    for tool in ("pytest", "ruff", "grpcio-tools"):
        assert tool in names[len(serve):] and tool not in names[:len(serve)]
    for build_tool in ("pip", "setuptools", "wheel"):  # pinned too: they build the sdist-only packages
        assert build_tool in names[:len(serve)]


def test_proxy_build_arguments():
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "EXTRA_CA_CERTS"):
        assert [i for i in _all("ARG") if i.split()[1].split("=")[0] == name], name
    # both stages trust the extra CA before they fetch anything
    stages = DOCKERFILE.split("\nFROM ")[1:]
    for stage in stages:
        assert "sh /usr/local/sbin/trust-ca-certs.sh" in stage.split("\nRUN ", 1)[1].split("\n")[0]


def test_only_grpc_rest_metrics_exposed_and_fixed_non_root_user():
    (expose,) = _all("EXPOSE")
    assert sorted(expose.split()[1:]) == ["7070", "8080", "8082"]
    (user,) = _all("USER")
    uid, _, gid = user.split()[1].partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and gid.isdigit() and int(gid) != 0


def test_tini_entrypoint_and_healthcheck():
    (entrypoint,) = _all("ENTRYPOINT")
    assert json.loads(entrypoint.split(None, 1)[1]) == ["/usr/bin/tini", "--", "/opt/ace3d/docker/entrypoint.sh"]
    (healthcheck,) = _all("HEALTHCHECK")
    assert "/opt/ace3d/docker/healthcheck.py" in healthcheck
    assert os.access(ROOT / "docker" / "entrypoint.sh", os.X_OK)
    assert subprocess.run(["sh", "-n", str(ROOT / "docker" / "entrypoint.sh")]).returncode == 0


def test_log_config_is_valid_xml_and_logs_to_stdout_only():
    root = xml.dom.minidom.parse(str(ROOT / "docker" / "log4j2.xml")).documentElement
    appenders = root.getElementsByTagName("Appenders")[0]
    kinds = [n.tagName for n in appenders.childNodes if n.nodeType == n.ELEMENT_NODE]
    assert kinds == ["Console"]
    assert "docker/log4j2.xml" in " ".join(_all("COPY"))


def _dockerignore_allows(path: str) -> bool:
    """.dockerignore semantics for our allow-list file: the last matching pattern wins."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if pattern == "**" or fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            allowed = negate
    return allowed


def test_every_copied_path_is_in_the_build_context():
    sources = []
    for copy in _all("COPY"):
        if "--from=" in copy:
            continue
        sources += copy.split()[1:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert _dockerignore_allows(source.rstrip("/")), f"COPY {source}: excluded by .dockerignore"
    assert not _dockerignore_allows("model_store/demo.mar")
    assert not _dockerignore_allows(".venv")


class _Ping(http.server.BaseHTTPRequestHandler):
    """TorchServe's /ping, and the management API's model list and worker states, on one port."""

    status = 200
    worker = "READY"
    seen: list = []

    def do_GET(self):  # noqa: N802 - http.server's API
        type(self).seen.append(self.headers.get("Authorization"))
        body = b'{"status": "Healthy"}' if self.status == 200 else b'{"status": "Unhealthy"}'
        if self.path == "/models":
            body = b'{"models": [{"modelName": "demo", "modelUrl": "demo.mar"}]}'
        elif self.path == "/models/demo":
            body = json.dumps([{"modelName": "demo", "workers": [{"id": "9000", "status": self.worker}]}]).encode()
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def fake_ping():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ping)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Ping.seen = []
    yield server
    server.shutdown()
    server.server_close()


def _run_healthcheck(home, url, *args):
    env = {**os.environ, "HOME": str(home), "ACE3D_HEALTH_URL": url, "ACE3D_MANAGEMENT_URL": url.rsplit("/", 1)[0]}
    return subprocess.run([sys.executable, str(ROOT / "docker" / "healthcheck.py"), *args], env=env,
                          capture_output=True, text=True, timeout=30)


def test_healthcheck_sends_the_inference_key_and_reads_the_status(fake_ping, tmp_path):
    url = f"http://127.0.0.1:{fake_ping.server_address[1]}/ping"
    _Ping.status = 200
    assert _run_healthcheck(tmp_path, url).returncode == 0
    assert _Ping.seen[-1] is None  # no key file, no header
    (tmp_path / "key_file.json").write_text(json.dumps({"inference": {"key": "abc"}, "management": {"key": "m"}}))
    assert _run_healthcheck(tmp_path, url).returncode == 0
    assert _Ping.seen[-1] == "Bearer abc"
    _Ping.status = 500
    result = _run_healthcheck(tmp_path, url)
    assert result.returncode == 1 and "Unhealthy" in result.stdout
    fake_ping.shutdown()
    fake_ping.server_close()
    assert _run_healthcheck(tmp_path, url).returncode == 1


def test_ready_check_waits_for_a_ready_worker_and_sends_the_management_key(fake_ping, tmp_path):
    url = f"http://127.0.0.1:{fake_ping.server_address[1]}/ping"
    _Ping.status, _Ping.worker = 200, "UNLOADING"  # TorchServe 0.12 while the worker loads: /ping says Healthy
    assert _run_healthcheck(tmp_path, url).returncode == 0
    waiting = _run_healthcheck(tmp_path, url, "--ready")
    assert waiting.returncode == 1 and "UNLOADING" in waiting.stdout
    (tmp_path / "key_file.json").write_text(json.dumps({"inference": {"key": "abc"}, "management": {"key": "m"}}))
    _Ping.worker = "READY"
    assert _run_healthcheck(tmp_path, url, "--ready").returncode == 0
    assert _Ping.seen[-3:] == ["Bearer abc", "Bearer m", "Bearer m"]  # /ping, /models, /models/demo
    _Ping.worker = "READY"


def _fake_bin(tmp_path):
    """Stand-ins for `ace3d` and `torchserve` that record their arguments: the entrypoint's own logic alone."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ace3d").write_text(
        '#!/bin/sh\necho "$@" > "$RECORD.ace3d"\n'
        'while [ $# -gt 0 ]; do case "$1" in --name) n=$2;; --out) o=$2;; esac; shift; done\n'
        'touch "$o/$n.mar"\n')
    (bin_dir / "torchserve").write_text('#!/bin/sh\necho "$@" > "$RECORD.torchserve"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return bin_dir


def _entrypoint(tmp_path, **env):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full_env = {"PATH": f"{_fake_bin(tmp_path)}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(home),
                "RECORD": str(tmp_path / "record"), "MPLCONFIGDIR": str(tmp_path / "mpl"), **env}
    return subprocess.run(["sh", str(ROOT / "docker" / "entrypoint.sh"), "--disable-token-auth"], env=full_env,
                          capture_output=True, text=True, timeout=30)


def test_entrypoint_defaults_serve_the_built_in_archive(tmp_path):
    result = _entrypoint(tmp_path)
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "record.torchserve").read_text().split()
    assert args[:3] == ["--start", "--foreground", "--ncs"]
    assert args[args.index("--models") + 1] == "demo=demo.mar"
    assert args[args.index("--model-store") + 1] == "/opt/ace3d/model_store"
    assert args[args.index("--log-config") + 1] == str(ROOT / "docker" / "log4j2.xml")
    assert args[-1] == "--disable-token-auth"  # extra arguments reach torchserve
    assert not (tmp_path / "record.ace3d").exists()


def test_entrypoint_archives_a_mounted_model_and_bank_and_serves_it(tmp_path):
    result = _entrypoint(tmp_path, ACE3D_MODEL_FILE="demo:/models/model.json", ACE3D_BANK_FILE="/models/bank.npz",
                         ACE3D_MODEL_NAME="mine", ACE3D_WORKERS="2")
    assert result.returncode == 0, result.stderr
    store = tmp_path / "home" / "model_store"
    assert (tmp_path / "record.ace3d").read_text().split() == [
        "archive", "--model", "demo:/models/model.json", "--bank", "/models/bank.npz", "--name", "mine",
        "--out", f"{store}/", "--workers", "2"]
    args = (tmp_path / "record.torchserve").read_text().split()
    assert args[args.index("--model-store") + 1] == str(store)
    assert args[args.index("--models") + 1] == "mine=mine.mar"


def test_entrypoint_refuses_a_model_without_a_bank(tmp_path):
    result = _entrypoint(tmp_path, ACE3D_MODEL_FILE="demo:/models/model.json")
    assert result.returncode != 0
    assert "set both ACE3D_MODEL_FILE and ACE3D_BANK_FILE" in result.stderr
    assert not (tmp_path / "record.torchserve").exists()


def test_entrypoint_leaves_workers_to_the_config_unless_asked(tmp_path):
    result = _entrypoint(tmp_path, ACE3D_MODEL_FILE="demo:/m/model.json", ACE3D_BANK_FILE="/m/bank.npz")
    assert result.returncode == 0, result.stderr
    assert "--workers" not in (tmp_path / "record.ace3d").read_text()
