"""Run a local TorchServe with an archive: `ace3d serve` / `ace3d stop`, and `LocalServer` for the tests.

The server runs in the background from a runtime directory of its own (config, logs, key file, pid file,
unpacked archives), so several servers can share a machine and nothing lands in the source tree.
TorchServe is imported nowhere: this module only starts its command line tools."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ace3d.serving.protocol import INIT_FAILED
from ace3d.tooling.project import ServeError, project_file

KEY_FILE = "key_file.json"


def default_properties() -> Path:
    """The reference config.properties of the project (model_store/)."""
    return project_file("model_store/config.properties")


# ---------------------------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Ports:
    inference: int = 8080
    management: int = 8081
    metrics: int = 8082
    grpc_inference: int = 7070
    grpc_management: int = 7071

    @classmethod
    def free(cls) -> Ports:
        """Five distinct free loopback ports (a test server must not collide with anything)."""
        ports: set[int] = set()
        while len(ports) < 5:
            ports.add(free_port())
        return cls(*sorted(ports))


def read_properties(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            props[k.strip()] = v.strip()
    return props


@dataclass
class LocalServer:
    """A TorchServe started in the background from `runtime` (its working directory). The launcher runs in a
    new session, so `stop` can end the frontend and every worker with one signal to the process group."""

    runtime: Path
    model_store: Path
    models: dict[str, str]  # model name -> archive file name in the store
    ports: Ports = field(default_factory=Ports)
    properties: Path = field(default_factory=lambda: default_properties())
    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self.runtime = Path(self.runtime).resolve()
        self.model_store = Path(self.model_store).resolve()

    # ----- loopback addresses
    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports.grpc_inference}"

    def rest_url(self, model: str) -> str:
        return f"http://127.0.0.1:{self.ports.inference}/predictions/{model}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.management}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.metrics}/metrics"

    # ----- files
    @property
    def pid_file(self) -> Path:
        return self.runtime / "server.json"

    @property
    def key_file(self) -> Path:
        return self.runtime / KEY_FILE

    @property
    def log_file(self) -> Path:
        return self.runtime / "torchserve.out"

    def write_config(self) -> Path:
        """The runtime config.properties: the reference file with this server's ports and absolute paths."""
        props = read_properties(Path(self.properties))
        p = self.ports
        props.update({
            "inference_address": f"http://127.0.0.1:{p.inference}",
            "management_address": f"http://127.0.0.1:{p.management}",
            "metrics_address": f"http://127.0.0.1:{p.metrics}",
            "grpc_inference_address": "127.0.0.1", "grpc_inference_port": str(p.grpc_inference),
            "grpc_management_address": "127.0.0.1", "grpc_management_port": str(p.grpc_management),
            "model_store": str(self.model_store),
            "metrics_config": str(Path(self.properties).parent.resolve() / Path(props.get(
                "metrics_config", "metrics.yaml")).name),
            "allowed_urls": "file://" + re.escape(str(self.model_store)) + r"/.*\.mar",
        })
        props.update(self.overrides)
        path = self.runtime / "config.properties"
        self.runtime.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    # ----- lifecycle
    def start(self, timeout: float = 300.0) -> LocalServer:
        """Start TorchServe and return once every model has a READY worker (or raise with the log's tail)."""
        if self.running():
            raise ServeError(f"a server from {self.runtime} is already running (pid {self._pgid()}); "
                             "stop it first (make stop)")
        (self.runtime / "tmp").mkdir(parents=True, exist_ok=True)
        self.key_file.unlink(missing_ok=True)
        logs = self.runtime / "logs"
        if logs.is_dir():  # keep the previous run's logs one generation back; read only this run's
            shutil.rmtree(self.runtime / "logs.prev", ignore_errors=True)
            logs.rename(self.runtime / "logs.prev")
        config = self.write_config()
        models = ",".join(f"{n}={f}" for n, f in self.models.items())
        cmd = [str(Path(sys.executable).with_name("torchserve")), "--start", "--foreground", "--ncs",
               "--ts-config", str(config), "--model-store", str(self.model_store), "--models", models]
        # TMPDIR keeps TorchServe's pid file (tempdir/.model_server.pid) private to this server; TEMP moves the
        # frontend's unpacked archives here; LOG_LOCATION / METRICS_LOCATION keep its logs here.
        tmp = str(self.runtime / "tmp")
        env = {**os.environ, "TMPDIR": tmp, "TEMP": tmp, "LOG_LOCATION": str(self.runtime / "logs"),
               "METRICS_LOCATION": str(self.runtime / "logs")}
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(cmd, cwd=self.runtime, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self._proc = proc
        self.pid_file.write_text(json.dumps({"pgid": proc.pid, "ports": self.ports.__dict__,
                                             "models": self.models}))
        try:
            self.wait_ready(timeout, proc)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float, proc: subprocess.Popen | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = set(self.models)
        while pending:
            if proc is not None and proc.poll() is not None:
                raise ServeError(f"TorchServe exited with status {proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise ServeError(f"models {sorted(pending)} not ready after {timeout:.0f} s:\n{self.log_tail()}")
            failure = self._init_failure()
            if failure:
                raise ServeError(f"the model cannot load: {failure}")
            for name in list(pending):
                if self._worker_ready(name):
                    pending.discard(name)
            time.sleep(0.5)

    def _init_failure(self) -> str | None:
        """The handler's initialisation error from the worker log, if it logged one."""
        log = self.runtime / "logs" / "model_log.log"
        if not log.is_file():
            return None
        for line in log.read_text(errors="replace").splitlines():
            if INIT_FAILED in line:
                return line.split(INIT_FAILED, 1)[1].strip()
        return None

    def _worker_ready(self, name: str) -> bool:
        key = self.keys().get("management")
        req = urllib.request.Request(f"{self.management_url}/models/{name}")
        if key:
            req.add_header("Authorization", f"Bearer {key}")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                desc = json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return any(w.get("status") == "READY" for m in desc for w in m.get("workers", []))

    def keys(self) -> dict[str, str]:
        """The keys TorchServe wrote at start ({} while it has not, or with token authorization off)."""
        try:
            data = json.loads(self.key_file.read_text())
        except (OSError, ValueError):
            return {}
        return {k: v["key"] for k, v in data.items() if isinstance(v, dict) and "key" in v}

    def _pgid(self) -> int | None:
        try:
            return int(json.loads(self.pid_file.read_text())["pgid"])
        except (OSError, ValueError, KeyError):
            return None

    def running(self) -> bool:
        pgid = self._pgid()
        if pgid is None:
            return False
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def stop(self, grace: float = 20.0) -> bool:
        """End the launcher, the frontend and every worker (the whole process group); False if none ran."""
        pgid = self._pgid()
        if pgid is None:
            return False
        stopped = _kill_group(pgid, grace, self._proc)
        self.pid_file.unlink(missing_ok=True)
        self.key_file.unlink(missing_ok=True)
        return stopped

    def log_tail(self, lines: int = 40) -> str:
        texts = []
        for path in (self.log_file, self.runtime / "logs" / "model_log.log", self.runtime / "logs" / "ts_log.log"):
            if path.is_file():
                texts.append(f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(texts)

    @classmethod
    def attach(cls, runtime: str | Path) -> LocalServer:
        """The server a previous `start` left in `runtime` (to stop it, or to read its keys and ports)."""
        runtime = Path(runtime)
        try:
            info = json.loads((runtime / "server.json").read_text())
        except (OSError, ValueError) as exc:
            raise ServeError(f"no server state in {runtime}") from exc
        return cls(runtime=runtime, model_store=runtime, models=info.get("models", {}), ports=Ports(**info["ports"]))


def _kill_group(pgid: int, grace: float, proc: subprocess.Popen | None = None) -> bool:
    """SIGTERM to the group, SIGKILL after `grace` s. The launcher is reaped when it is our child (`proc`),
    else a zombie would keep the group alive."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None:
            proc.poll()
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait(timeout=10)
    return True


# ------------------------------------------------------------------------------------------------- CLI
def cmd_serve(args) -> None:
    store = Path(args.model_store) if args.model_store else project_file("model_store")
    archive = store / f"{args.archive}.mar"
    if not archive.is_file():
        raise ServeError(f"archive not found: {archive} (build it with `ace3d archive`)")
    ports = Ports(inference=args.inference_port, management=args.management_port, metrics=args.metrics_port,
                  grpc_inference=args.grpc_port, grpc_management=args.grpc_management_port)
    server = LocalServer(runtime=Path(args.runtime), model_store=store, models={args.name: archive.name},
                         ports=ports, properties=Path(args.config) if args.config else default_properties())
    if (server.runtime / "server.json").is_file() and LocalServer.attach(server.runtime).running():
        print(f"TorchServe is already running from {server.runtime} (stop it first to restart: make stop)")
        return
    server.start(timeout=args.timeout)
    print(f"TorchServe is serving {args.name!r}: gRPC {server.grpc_target}, REST {server.rest_url(args.name)}, "
          f"metrics {server.metrics_url}")
    print(f"inference key: in {server.key_file} (\"inference\"); logs: {server.runtime}/logs")
    print(f"try: ace3d client --target {server.grpc_target} --token-file {server.key_file} "
          f"VIDEO.mp4     stop: make stop")


def cmd_stop(args) -> None:
    runtime = Path(args.runtime)
    if not (runtime / "server.json").is_file():
        print(f"no server running from {runtime}")
        return
    server = LocalServer.attach(runtime)
    print("stopped TorchServe" if server.stop() else "TorchServe was not running")


def add_parser(sub) -> None:
    """Register `ace3d serve` and `ace3d stop`."""
    sp = sub.add_parser("serve", help="start TorchServe in the background with an archive; returns when ready")
    sp.add_argument("--archive", default="demo", help="archive name in the model store (default: demo)")
    sp.add_argument("--name", default="demo", help="model name to register (default: demo)")
    sp.add_argument("--model-store", default=None, help="default: the project's model_store/")
    sp.add_argument("--config", default=None, help="reference config.properties (default: model_store/'s)")
    sp.add_argument("--runtime", default="out/serve", help="working directory: config, logs, key file")
    sp.add_argument("--grpc-port", type=int, default=7070)
    sp.add_argument("--inference-port", type=int, default=8080)
    sp.add_argument("--management-port", type=int, default=8081)
    sp.add_argument("--metrics-port", type=int, default=8082)
    sp.add_argument("--grpc-management-port", type=int, default=7071)
    sp.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the model")
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("stop", help="stop the TorchServe that `ace3d serve` started")
    sp.add_argument("--runtime", default="out/serve")
    sp.set_defaults(func=cmd_stop)
