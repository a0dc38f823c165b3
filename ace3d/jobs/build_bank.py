"""`ace3d build-bank`: the offline half of 3D ACE, from videos per class to a ConceptBank file.

videos -> clips -> supervoxels -> features -> concepts (k-means + popularity) -> CAVs against random sets
-> TCAV scores and paired t-tests -> Benjamini-Hochberg -> thumbnails -> bank.

This is the local engine: the stages of bank_stages.py in a loop, in this process. The Ray engine
(bank_ray.py) schedules the same functions on a cluster and gives the same bank."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ace3d.jobs import bank_shards as shards
from ace3d.jobs.bank_plan import BuildReport, extra_meta, make_plan, usable
from ace3d.jobs.bank_stages import THUMB, VideoResult, assemble, class_rows, process_video, random_sets, thumbnail
from ace3d.method import bank as bank_mod
from ace3d.method.concepts import ConceptParams
from ace3d.method.supervoxels import SlicParams
from ace3d.models import Classifier

__all__ = ["THUMB", "BankParams", "BuildResult", "build", "build_local", "thumbnail"]


@dataclass(frozen=True)
class BankParams:
    feature_mode: str = "pooled"
    slic: SlicParams = SlicParams()
    concepts: ConceptParams = ConceptParams()
    n_random_sets: int = 20
    random_set_size: int = 40
    alpha: float = 0.01
    thumbnails: int = 3
    max_videos_per_class: int = 0  # 0: all
    seed: int = 0
    min_videos: int = 2  # a class with fewer usable videos is left out (a concept recurs across videos)


@dataclass
class BuildResult:
    bank: bank_mod.ConceptBank
    report: BuildReport


def build(clf: Classifier, data: str | Path, classes: list[str] | None = None, params: BankParams = BankParams(),
          progress: bool = True) -> bank_mod.ConceptBank:
    """Discover and test concepts for `classes` (default: every class folder of `data`)."""
    return build_local(clf, data, classes, params, progress).bank


def build_local(clf: Classifier, data: str | Path, classes: list[str] | None = None,
                params: BankParams = BankParams(), progress: bool = True,
                work_dir: str | Path | None = None) -> BuildResult:
    """`build` with its report; with `work_dir`, per-video results are kept there as shards and a rerun reads
    them back instead of computing them again."""
    t_start = time.time()
    plan = make_plan(clf, data, classes, params)
    report = BuildReport(engine="local", total=len(plan.jobs))
    results: dict[str, VideoResult] = {}
    t0 = time.perf_counter()
    for job in tqdm(plan.jobs, desc="videos", unit="video", disable=not progress):
        if work_dir is not None and shards.record(work_dir, job.key) is not None:
            res = shards.load(work_dir, job.key)
            report.resumed += 1
        else:
            res = process_video(clf, job.path, job.target, params)
            report.computed += 1
            report.add_work(res.seconds)
            report.video_times.append(time.perf_counter() - t0)
            if work_dir is not None:
                shards.save(work_dir, job.key, res)
        results[job.key] = res
    report.wall["videos"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ok = usable(plan, {k: r.error for k, r in results.items()}, params, report)
    pool, rsets = random_sets([results[j.key].features for j in ok.randoms], params)
    rows = []
    for cname, jobs in ok.classes.items():
        found, sec = class_rows(cname, jobs[0].target, [results[j.key] for j in jobs], rsets, params, progress)
        rows.extend(found)
        report.add_work(sec)
    report.wall["classes"] = time.perf_counter() - t0
    bank = assemble(clf, rows, pool, params, list(ok.classes), {c: len(js) for c, js in ok.classes.items()},
                    len(ok.randoms), time.time() - t_start, extra_meta(report))
    return BuildResult(bank, report)
