"""A real TorchServe for the integration tests: one archive, one server on free loopback ports, for the whole
session, and always stopped at the end (the whole process group, also when a test fails).

The archive holds the committed default model and bank when they exist, else a tiny model and bank built
here in ~20 s, so the suite runs before and after the default assets land. Its model-config.yaml uses small
limits (1 MiB of video, 300 frames, 4 clips) so the over-limit cases are cheap, and a 300 ms batch delay so
concurrent requests really share a batch."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from ace3d.models import ASSETS

MODEL_NAME = "ace3d_it"
HANDLER_MAX_BYTES = 1024 * 1024
HANDLER_MAX_FRAMES = 300
FRONTEND_MAX_REQUEST = 3 * 1024 * 1024

TEST_MODEL_CONFIG = f"""\
minWorkers: 1
maxWorkers: 1
batchSize: 4
maxBatchDelay: 300
responseTimeout: 120
startupTimeout: 120
handler:
  max_clips: 4
  max_bytes: {HANDLER_MAX_BYTES}
  max_frames: {HANDLER_MAX_FRAMES}
  max_decode_seconds: 20
  threads: 1
"""


@dataclass
class Served:
    server: object  # ace3d.archive.LocalServer
    model: str
    token: str
    class_names: list[str]
    worker_pid: int
    spec: str = ""
    bank: Path | None = None
    max_bytes: int = HANDLER_MAX_BYTES
    max_frames: int = HANDLER_MAX_FRAMES
    max_request: int = FRONTEND_MAX_REQUEST

    @property
    def grpc_target(self) -> str:
        return self.server.grpc_target

    @property
    def rest_url(self) -> str:
        return self.server.rest_url(self.model)

    @property
    def metrics_url(self) -> str:
        return self.server.metrics_url

    def current_worker_pid(self) -> int:
        return worker_pid_of(self.server, self.model)

    def client(self, **kw):
        from ace3d_client.client import Ace3dClient

        kw.setdefault("token", self.token)
        kw.setdefault("deadline", 120.0)
        return Ace3dClient(self.grpc_target, self.model, **kw)


def model_and_bank(tmp: Path) -> tuple[str, Path]:
    """The committed default model and bank, or a tiny pair built now (same recipe as tests/conftest.py)."""
    if (ASSETS / "demo_bank.npz").is_file() and (ASSETS / "demo_model.json").is_file():
        return "demo", ASSETS / "demo_bank.npz"
    from ace3d import models
    from ace3d.jobs.bank_params import BankParams
    from ace3d.jobs.build_bank import build
    from ace3d.jobs.synth import generate
    from ace3d.jobs.train import TrainConfig, train
    from ace3d.method.concepts import ConceptParams

    data = generate(tmp / "synth", per_class=6, seed=3, n_random=6, progress=False)
    cfg = TrainConfig(clip_shape=(16, 32, 32), epochs=1, batch_size=8,
                      builder={"width_factor": 0.5, "depth_factor": 0.5, "bottleneck_factor": 2.0,
                               "head_dim_out": 64, "stem_dim_in": 8, "dropout": 0.0})
    train(data, tmp / "model" / "tiny", cfg, progress=False)
    spec = "demo:" + str(tmp / "model" / "tiny.json")
    params = BankParams(n_random_sets=5, random_set_size=10, concepts=ConceptParams(n_clusters=20, min_members=3))
    bank = build(models.load(spec), data, params=params, progress=False)
    return spec, bank.save(tmp / "tiny_bank.npz")


def worker_pid_of(server, model: str) -> int:
    import json
    import urllib.request

    req = urllib.request.Request(f"http://127.0.0.1:{server.ports.management}/models/{model}")
    req.add_header("Authorization", f"Bearer {server.keys()['management']}")
    with urllib.request.urlopen(req, timeout=10) as r:
        desc = json.loads(r.read())
    return int(desc[0]["workers"][0]["pid"])


@contextlib.contextmanager
def serving(tmp: Path, spec: str, bank: Path | None, name: str, model_config: str, max_request: int, label: str):
    """Archive `spec` + `bank` as `name` with `model_config`, start a TorchServe on free loopback ports, yield
    (server, archive) and always stop it, checking that nothing of it (launcher, java, worker) outlives it."""
    from ace3d.tooling.archive import build_archive
    from ace3d.tooling.server import LocalServer, Ports

    (tmp / "model-config.yaml").write_text(model_config)
    store = tmp / "store"
    archive = build_archive(spec, bank, name, store, config=tmp / "model-config.yaml", device="cpu", check=False)
    server = LocalServer(runtime=tmp / "runtime", model_store=store, models={name: archive.name},
                         ports=Ports.free(), overrides={"max_request_size": str(max_request)})
    t0 = time.monotonic()
    server.start(timeout=240)
    pgid = server._pgid()
    try:
        print(f"\n{label} ready in {time.monotonic() - t0:.1f} s on ports {server.ports}")
        yield server, archive
    finally:
        server.stop()
        assert pgid is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)


@pytest.fixture(scope="session")
def served(tmp_path_factory) -> Served:
    from ace3d import models

    tmp = tmp_path_factory.mktemp("serving")
    spec, bank = model_and_bank(tmp)
    with serving(tmp, spec, bank, MODEL_NAME, TEST_MODEL_CONFIG, FRONTEND_MAX_REQUEST, "TorchServe") as (server, _):
        keys = server.keys()
        assert keys.get("inference"), "token authorization is expected ON: no inference key written"
        yield Served(server, MODEL_NAME, keys["inference"], list(models.load(spec).class_names),
                     worker_pid_of(server, MODEL_NAME), spec=spec, bank=bank)


# ------------------------------------------------------------------------------------------- videos
@pytest.fixture(scope="session")
def video_bytes() -> bytes:
    """The default synthetic clip (one move_right video) as mp4 bytes."""
    from ace3d.jobs.synth import default_video_bytes

    return default_video_bytes()


@pytest.fixture(scope="session")
def long_video(tmp_path_factory) -> bytes:
    """Three synthetic videos one after another: long enough for three clips."""
    from ace3d.jobs.synth import DIRECTIONS, render
    from ace3d.method.video import write_mp4

    rng = np.random.default_rng(11)
    frames = np.concatenate([render(rng, DIRECTIONS[d])[0] for d in ("move_right", "move_left", "move_up")])
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    write_mp4(path, frames)
    return path.read_bytes()
