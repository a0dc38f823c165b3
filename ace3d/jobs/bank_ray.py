"""The Ray scheduler of `ace3d build-bank --engine ray`: the driver (bank_driver.py) runs the stages of
bank_stages.py on a Ray cluster (a local one started here, or an existing one joined with `address`). The bank
is the local scheduler's.

map stage:       Ray Data `map_batches` over the list of videos, on a pool of actors that each load the model
                 once (one GPU per actor when the cluster has GPUs); each video's result is written as a shard
                 into the work directory, which every node must see (a shared volume on a cluster). A rerun
                 skips the videos whose shard exists; a killed actor is restarted by Ray and its video retried.
per-class stage: one Ray task per class: reads the class's shards, k-means, popularity filters, CAVs, TCAV.
driver:          (bank_driver.py) lists the videos, resumes, shows the progress, draws the random sets,
                 corrects the p-values across classes and writes the bank, once."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ace3d.errors import Ace3dError
from ace3d.jobs import bank_driver
from ace3d.jobs import bank_shards as shards
from ace3d.jobs.bank_driver import BuildResult, ClassJob, VideoDone
from ace3d.jobs.bank_params import BankParams
from ace3d.jobs.bank_plan import VideoJob
from ace3d.jobs.bank_shards import ShardStore
from ace3d.jobs.bank_stages import class_rows, process_video


@dataclass(frozen=True)
class ModelSpec:
    """How a worker loads the model: what `--model` and `--layer` say (workers load it themselves)."""

    spec: str
    layer: str | None = None


def _ray():
    try:
        import ray
    except ImportError as exc:  # pinned in requirements-serve.txt; a slim install may lack it
        raise Ace3dError("the Ray engine needs the `ray` package and its data extra's packages (pinned in "
                         "requirements-serve.txt: `make venv` installs them)") from exc
    return ray


class VideoMapper:
    """A map-stage actor: loads the model once, then turns videos (one per batch) into shards. Returns one small
    row per video (shard key, error, seconds, the worker's host and pid); the arrays stay in the shard."""

    def __init__(self, model: ModelSpec, params: BankParams, work_dir: str, threads: int) -> None:
        import ray
        import torch

        from ace3d import models

        torch.set_num_threads(max(1, threads))
        device = "cuda" if ray.get_gpu_ids() and torch.cuda.is_available() else "cpu"
        self.clf = models.load(model.spec, layer=model.layer, device=device)
        self.params, self.work_dir = params, work_dir
        self.where = {"host": socket.gethostname(), "pid": os.getpid()}

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out: dict[str, list] = {"key": [], "error": [], "seconds": [], "host": [], "pid": [], "computed": []}
        for path, target, key in zip(batch["path"], batch["target"], batch["key"], strict=True):
            rec = shards.record(self.work_dir, str(key))  # done by an earlier attempt of this same block
            computed = rec is None
            if computed:
                res = process_video(self.clf, str(path), int(target), self.params)
                shards.save(self.work_dir, str(key), res, self.where)
                rec = {"error": res.error, "seconds": res.seconds}
            for k, v in (("key", str(key)), ("error", rec["error"]), ("seconds", json.dumps(rec["seconds"])),
                         ("host", self.where["host"]), ("pid", self.where["pid"]), ("computed", computed)):
                out[k].append(v)
        return {k: np.array(v) for k, v in out.items()}


def _class_task(cname: str, target: int, keys: list[str], work_dir: str, rsets: list[np.ndarray],
                params: BankParams):
    """The per-class stage as a Ray task: its videos come from the shards, not through the driver."""
    return class_rows(cname, target, [shards.load(work_dir, k) for k in keys], rsets, params)


def _workers(ray, workers: int, gpu: bool) -> int:
    if workers > 0:
        return workers
    res = ray.cluster_resources()
    return max(1, int(res.get("GPU", 0) if gpu else res.get("CPU", 1)))


class RayScheduler:
    """The map stage as a Ray Data pipeline on an actor pool, the per-class stage as Ray tasks; results as
    shards in `work_dir`, which every node must see."""

    name = "ray"

    def __init__(self, model: ModelSpec, params: BankParams, work_dir: str | Path, address: str | None = None,
                 workers: int = 0, cpus_per_worker: int = 1) -> None:
        self.ray = _ray()  # a missing Ray fails before any work
        self.model, self.params, self.address = model, params, address
        self.work_dir = Path(work_dir).resolve()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.store = ShardStore(self.work_dir)
        self.want, self.cpus_per_worker = workers, cpus_per_worker
        self.workers, self.gpu = 0, False

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """Outside a Ray session, a local Ray is started here (or `address` joined) and stopped at the end."""
        ray = self.ray
        started = not ray.is_initialized()
        if started:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, configure_logging=True)
        try:
            self.gpu = ray.cluster_resources().get("GPU", 0) > 0
            self.workers = _workers(ray, self.want, self.gpu)
            yield
        finally:
            if started:
                ray.shutdown()

    def videos(self, jobs: list[VideoJob]) -> Iterator[VideoDone]:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # the driver's is the one bar a person follows
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # its INFO lines would break through the bar
        ds = ray.data.from_items([{"path": j.path, "target": j.target, "key": j.key} for j in jobs],
                                 override_num_blocks=len(jobs))  # one video per block: retried alone
        ds = ds.map_batches(VideoMapper, batch_size=1, compute=ray.data.ActorPoolStrategy(size=self.workers),
                            num_cpus=self.cpus_per_worker, num_gpus=1 if self.gpu else 0,
                            fn_constructor_kwargs={"model": self.model, "params": self.params,
                                                   "work_dir": str(self.work_dir), "threads": self.cpus_per_worker})
        for row in ds.iter_rows():
            row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            yield VideoDone(row["key"], row["error"], json.loads(row["seconds"]), bool(row["computed"]),
                            {"host": row["host"], "pid": row["pid"]})

    def classes(self, jobs: list[ClassJob], rsets: list[np.ndarray]):
        ray = self.ray
        rsets_ref = ray.put(rsets)
        task = ray.remote(num_cpus=1, max_retries=3)(_class_task)
        waiting = {task.remote(j.name, j.target, j.keys, str(self.work_dir), rsets_ref, self.params): j.name
                   for j in jobs}
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1)
            rows, sec = ray.get(ready[0])
            yield waiting.pop(ready[0]), rows, sec


def build_ray(clf, model: ModelSpec, data: str | Path, work_dir: str | Path, classes: list[str] | None = None,
              params: BankParams | None = None, address: str | None = None, workers: int = 0,
              cpus_per_worker: int = 1, progress: bool = True,
              on_video: Callable[[dict], None] | None = None) -> BuildResult:
    """Build the bank of `build_bank.build` on Ray. `clf` is the driver's copy of the model (for checks and the
    bank's record); workers load `model` themselves. Without `address` and outside a Ray session, a local Ray
    is started (and stopped at the end); `workers` 0: one per GPU, or one per CPU without GPUs. `on_video` is
    called on the driver with each finished video's row."""
    params = params or BankParams()
    scheduler = RayScheduler(model, params, work_dir, address, workers, cpus_per_worker)
    return bank_driver.run(clf, data, classes, params, scheduler, progress, on_video)
