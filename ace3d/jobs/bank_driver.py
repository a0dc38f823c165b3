"""The one driver of a bank build: plan -> map stage (each video, through a scheduler) -> per-class stage
(through the scheduler) -> the bank, with the resume bookkeeping, the progress bars and the report.

A scheduler decides only where the stages of bank_stages.py run: in this process (`LocalScheduler`,
build_bank.py) or on a Ray cluster (`RayScheduler`, bank_ray.py). Both keep each video's result in a store
(shards in a work directory, or memory), so the driver resumes from whatever the store already holds."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from ace3d.jobs.bank_params import BankParams
from ace3d.jobs.bank_plan import BuildReport, VideoJob, extra_meta, make_plan, usable
from ace3d.jobs.bank_stages import VideoResult, assemble, random_sets
from ace3d.method.bank import ConceptBank, ConceptRow
from ace3d.models import Classifier


@dataclass(frozen=True)
class VideoDone:
    """What a scheduler reports of one video of the map stage (its arrays stay in the store)."""

    key: str
    error: str  # "" when the video is usable
    seconds: dict[str, float]
    computed: bool  # False: an earlier attempt had stored it (a retried block on Ray)
    where: dict = field(default_factory=dict)  # the worker: host, pid

    def row(self) -> dict:
        return {"key": self.key, "error": self.error, "seconds": self.seconds, "computed": self.computed,
                **self.where}


@dataclass(frozen=True)
class ClassJob:
    """One unit of the per-class stage: a class, its target and the store keys of its usable videos."""

    name: str
    target: int
    keys: list[str]


class Store(Protocol):
    def record(self, k: str) -> dict | None: ...
    def load(self, k: str) -> VideoResult: ...
    def save(self, k: str, result: VideoResult, info: dict | None = None) -> None: ...


class Scheduler(Protocol):
    """Where the stages run. `session()` holds its resources (a cluster) for the build; `workers` is known
    inside it. `classes` may yield in any order."""

    name: str
    workers: int
    store: Store

    def session(self) -> contextlib.AbstractContextManager: ...
    def videos(self, jobs: list[VideoJob]) -> Iterator[VideoDone]: ...
    def classes(self, jobs: list[ClassJob], rsets: list[np.ndarray]) -> Iterator[tuple[str, list[ConceptRow],
                                                                                      dict[str, float]]]: ...


@dataclass
class BuildResult:
    bank: ConceptBank
    report: BuildReport


def run(clf: Classifier, data: str | Path, classes: list[str] | None, params: BankParams, scheduler: Scheduler,
        progress: bool = True, on_video: Callable[[dict], None] | None = None) -> BuildResult:
    """Build a bank of `classes` (None: every class folder of `data`) with `scheduler`; `on_video` is called
    with each finished video's row (key, error, seconds, computed, host, pid)."""
    t_start = time.time()
    plan = make_plan(clf, data, classes, params)  # bad input fails before any scheduler resource is taken
    report = BuildReport(engine=scheduler.name, total=len(plan.jobs))
    with scheduler.session():
        report.workers = scheduler.workers
        errors = _videos(plan.jobs, scheduler, report, progress, on_video)
        t0 = time.perf_counter()
        ok = usable(plan, errors, params, report)
        pool, rsets = random_sets([scheduler.store.load(j.key).features for j in ok.randoms], params)
        found: dict[str, tuple[list[ConceptRow], dict[str, float]]] = {}
        jobs = [ClassJob(c, js[0].target, [j.key for j in js]) for c, js in ok.classes.items()]
        with tqdm(total=len(jobs), desc="classes", unit="class", disable=not progress, dynamic_ncols=True) as bar:
            for cname, rows, sec in scheduler.classes(jobs, rsets):
                found[cname] = (rows, sec)
                bar.update(1)
        report.wall["classes"] = time.perf_counter() - t0
    rows = []
    for c in ok.classes:  # the plan's order, whatever order the classes finished in
        rows.extend(found[c][0])
        report.add_work(found[c][1])
    bank = assemble(clf, rows, pool, params, list(ok.classes), {c: len(js) for c, js in ok.classes.items()},
                    len(ok.randoms), time.time() - t_start, extra_meta(report))
    return BuildResult(bank, report)


def _videos(jobs: list[VideoJob], scheduler: Scheduler, report: BuildReport, progress: bool,
            on_video: Callable[[dict], None] | None) -> dict[str, str]:
    """The map stage: videos the store holds are resumed, the others computed. Returns key -> error."""
    errors: dict[str, str] = {}
    for j in jobs:
        rec = scheduler.store.record(j.key)
        if rec is not None:
            errors[j.key] = rec["error"]
    report.resumed = len(errors)
    pending = [j for j in jobs if j.key not in errors]
    t0 = time.perf_counter()
    with tqdm(total=len(jobs), initial=report.resumed, desc="videos", unit="video", disable=not progress,
              dynamic_ncols=True) as bar:
        for done in scheduler.videos(pending) if pending else ():
            errors[done.key] = done.error
            if done.computed:
                report.computed += 1
                report.add_work(done.seconds)
                report.video_times.append(time.perf_counter() - t0)
            else:
                report.resumed += 1
            bar.update(1)
            if on_video is not None:
                on_video(done.row())
    report.wall["videos"] = time.perf_counter() - t0
    return errors
