"""The Ray engine of `ace3d build-bank --engine ray`: the stages of bank_stages.py scheduled on a Ray cluster
(a local one started here, or an existing one joined with `address`). The bank is the local engine's.

map stage:       Ray Data `map_batches` over the list of videos, on a pool of actors that each load the model
                 once (one GPU per actor when the cluster has GPUs); each video's result is written as a shard
                 into the work directory, which every node must see (a shared volume on a cluster). A rerun
                 skips the videos whose shard exists; a killed actor is restarted by Ray and its video retried.
per-class stage: one Ray task per class: reads the class's shards, k-means, popularity filters, CAVs, TCAV.
driver:          lists the videos, shows the progress, draws the random sets, corrects the p-values across
                 classes and writes the bank, once."""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ace3d.errors import Ace3dError
from ace3d.jobs import bank_shards as shards
from ace3d.jobs.bank_plan import BuildReport, Plan, extra_meta, make_plan, usable
from ace3d.jobs.bank_stages import assemble, class_rows, process_video, random_sets


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

    def __init__(self, model: ModelSpec, params, work_dir: str, threads: int) -> None:
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


def _class_task(cname: str, target: int, keys: list[str], work_dir: str, rsets: list[np.ndarray], params):
    """The per-class stage as a Ray task: its videos come from the shards, not through the driver."""
    return class_rows(cname, target, [shards.load(work_dir, k) for k in keys], rsets, params)


def _workers(ray, workers: int, gpu: bool) -> int:
    if workers > 0:
        return workers
    res = ray.cluster_resources()
    return max(1, int(res.get("GPU", 0) if gpu else res.get("CPU", 1)))


def build_ray(clf, model: ModelSpec, data: str | Path, work_dir: str | Path, classes: list[str] | None = None,
              params=None, address: str | None = None, workers: int = 0, cpus_per_worker: int = 1,
              progress: bool = True, on_video: Callable[[dict], None] | None = None):
    """Build the bank of `build_bank.build` on Ray. `clf` is the driver's copy of the model (for checks and the
    bank's record); workers load `model` themselves. Without `address` and outside a Ray session, a local Ray
    is started (and stopped at the end); `workers` 0: one per GPU, or one per CPU without GPUs. `on_video` is
    called on the driver with each finished video's row. Returns a BuildResult."""
    from ace3d.jobs.build_bank import BankParams, BuildResult

    params = params or BankParams()
    ray = _ray()
    t_start = time.time()
    plan = make_plan(clf, data, classes, params)  # bad input fails before any cluster is touched
    work_dir = Path(work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 configure_logging=True)
    try:
        report = BuildReport(engine="ray")
        bank = _run(ray, plan, clf, model, str(work_dir), params, workers, cpus_per_worker, progress, on_video,
                    report, t_start)
        return BuildResult(bank, report)
    finally:
        if started:
            ray.shutdown()


def _run(ray, plan: Plan, clf, model: ModelSpec, work_dir: str, params, workers: int, cpus_per_worker: int,
         progress: bool, on_video, report: BuildReport, t_start: float):
    import ray.data

    gpu = ray.cluster_resources().get("GPU", 0) > 0
    report.workers = _workers(ray, workers, gpu)
    jobs = plan.jobs
    report.total = len(jobs)
    errors: dict[str, str] = {}
    for j in jobs:  # finished shards of an earlier run
        rec = shards.record(work_dir, j.key)
        if rec is not None:
            errors[j.key] = rec["error"]
    report.resumed = len(errors)
    pending = [j for j in jobs if j.key not in errors]

    t0 = time.perf_counter()
    bar = tqdm(total=len(jobs), initial=report.resumed, desc="videos", unit="video", disable=not progress,
               dynamic_ncols=True)
    if pending:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours is the one bar a person follows
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # its INFO lines would break through the bar
        ds = ray.data.from_items([{"path": j.path, "target": j.target, "key": j.key} for j in pending],
                                 override_num_blocks=len(pending))  # one video per block: retried alone
        ds = ds.map_batches(VideoMapper, batch_size=1, compute=ray.data.ActorPoolStrategy(size=report.workers),
                            num_cpus=cpus_per_worker, num_gpus=1 if gpu else 0,
                            fn_constructor_kwargs={"model": model, "params": params, "work_dir": work_dir,
                                                   "threads": cpus_per_worker})
        for row in ds.iter_rows():
            row = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            errors[row["key"]] = row["error"]
            if row["computed"]:
                report.computed += 1
                report.add_work(json.loads(row["seconds"]))
                report.video_times.append(time.perf_counter() - t0)
            else:
                report.resumed += 1
            bar.update(1)
            if on_video is not None:
                on_video(row)
    bar.close()
    report.wall["videos"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ok = usable(plan, errors, params, report)
    pool, rsets = random_sets([shards.load(work_dir, j.key).features for j in ok.randoms], params)
    rsets_ref = ray.put(rsets)
    task = ray.remote(num_cpus=1, max_retries=3)(_class_task)
    refs = {c: task.remote(c, js[0].target, [j.key for j in js], work_dir, rsets_ref, params)
            for c, js in ok.classes.items()}
    done: dict[str, tuple] = {}
    with tqdm(total=len(refs), desc="classes", unit="class", disable=not progress, dynamic_ncols=True) as cbar:
        waiting = {ref: c for c, ref in refs.items()}
        while waiting:
            ready, _ = ray.wait(list(waiting), num_returns=1)
            done[waiting.pop(ready[0])] = ray.get(ready[0])
            cbar.update(1)
    rows = []
    for c in ok.classes:  # the local engine's order, whatever order the tasks finished in
        found, sec = done[c]
        rows.extend(found)
        report.add_work(sec)
    report.wall["classes"] = time.perf_counter() - t0
    return assemble(clf, rows, pool, params, list(ok.classes), {c: len(js) for c, js in ok.classes.items()},
                    len(ok.randoms), time.time() - t_start, extra_meta(report))
