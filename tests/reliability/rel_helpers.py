"""Constants and helpers of the reliability suite (imported by its conftest and tests as `rel_helpers`)."""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:  # `tests.integration.conftest` is imported by path from the repository root
    sys.path.insert(0, _REPO)

from tests.integration.conftest import model_and_bank, serving  # noqa: E402, F401

MODEL_NAME = "ace3d_rel"
MAX_BYTES = 1024 * 1024
MAX_FRAMES = 300
MAX_PIXELS = 1920 * 1088
MAX_CLIPS = 8
FRONTEND_MAX_REQUEST = 3 * 1024 * 1024

MODEL_CONFIG = f"""\
minWorkers: 1
maxWorkers: 1
batchSize: 1
maxBatchDelay: 1
responseTimeout: 60
startupTimeout: 120
handler:
  max_clips: {MAX_CLIPS}
  max_bytes: {MAX_BYTES}
  max_frames: {MAX_FRAMES}
  max_pixels: {MAX_PIXELS}
  max_decode_seconds: 20
  threads: 1
"""

# Lines TorchServe 0.12 writes when a worker process dies or is restarted (frontend and backend logs).
WORKER_DEATH = re.compile(r"Backend worker process died|Worker disconnected|Backend worker monitoring thread "
                          r"interrupted|worker process died|Retry worker", re.IGNORECASE)


@dataclass
class Server:
    server: object  # ace3d.archive.LocalServer
    model: str
    token: str
    class_names: list[str]
    spec: str
    bank: Path
    archive: Path

    @property
    def grpc_target(self) -> str:
        return self.server.grpc_target

    @property
    def rest_url(self) -> str:
        return self.server.rest_url(self.model)

    @property
    def management_url(self) -> str:
        return self.server.management_url

    @property
    def metrics_url(self) -> str:
        return self.server.metrics_url

    def client(self, **kw):
        from ace3d_client.client import Ace3dClient

        kw.setdefault("token", self.token)
        kw.setdefault("deadline", 60.0)
        return Ace3dClient(self.grpc_target, self.model, **kw)

    def worker_pid(self) -> int:
        return self.workers()[0][0]

    def workers(self) -> list[tuple[int, str]]:
        """(pid, status) of each worker the management API lists."""
        req = urllib.request.Request(f"{self.management_url}/models/{self.model}")
        req.add_header("Authorization", f"Bearer {self.server.keys()['management']}")
        with urllib.request.urlopen(req, timeout=10) as r:
            return [(int(w.get("pid", -1)), w.get("status", "")) for w in json.loads(r.read())[0]["workers"]]

    def worker_status(self) -> list[str]:
        return [status for _, status in self.workers()]

    def log_text(self, name: str = "all") -> str:
        logs = self.server.runtime / "logs"
        files = [logs / "ts_log.log", logs / "model_log.log"] if name == "all" else [logs / name]
        return "\n".join(p.read_text(errors="replace") for p in files if p.is_file())

    def worker_deaths(self) -> int:
        """Lines in this run's logs that say a worker died (0 while every worker lives)."""
        return len(WORKER_DEATH.findall(self.log_text()))


# ------------------------------------------------------------------------------------------ figures
def record(section: str, figures: dict) -> None:
    """Add a test's measured figures to $ACE3D_RELIABILITY_REPORT (JSON), for docs/RELIABILITY.md."""
    path = os.environ.get("ACE3D_RELIABILITY_REPORT")
    print(f"\n[{section}] {json.dumps(figures, sort_keys=True)}")
    if not path:
        return
    p = Path(path)
    data = json.loads(p.read_text()) if p.is_file() else {}
    data[section] = figures
    p.write_text(json.dumps(data, indent=1, sort_keys=True))


from ace3d.serving.protocol import INIT_FAILED  # noqa: E402, F401 - the line the handler logs


def http(method: str, url: str, token: str | None = None, data: bytes | None = None,
         headers: dict | None = None, timeout: float = 30.0) -> tuple[int, str]:
    """(status, body) of one HTTP call; HTTP errors are answers, not exceptions."""
    import urllib.error

    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
