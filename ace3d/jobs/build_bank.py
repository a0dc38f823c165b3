"""`ace3d build-bank`: the offline half of 3D ACE, from videos per class to a ConceptBank file.

videos -> clips -> supervoxels -> features (map stage, per video) -> concepts (k-means + popularity) -> CAVs
against random sets -> TCAV scores and paired t-tests (per-class stage) -> Benjamini-Hochberg -> bank.

This is the local scheduler of the driver (bank_driver.py): the stages of bank_stages.py in a loop, in this
process. The Ray scheduler (bank_ray.py) runs the same stages on a cluster and gives the same bank."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ace3d.jobs import bank_driver
from ace3d.jobs.bank_driver import BuildResult, ClassJob, VideoDone
from ace3d.jobs.bank_params import BankParams
from ace3d.jobs.bank_plan import VideoJob
from ace3d.jobs.bank_shards import MemoryStore, ShardStore
from ace3d.jobs.bank_stages import class_rows, process_video
from ace3d.method import bank as bank_mod
from ace3d.models import Classifier


class LocalScheduler:
    """Every stage in this process, one video after the other; results in memory, or as shards in
    `work_dir` (then a rerun resumes from them)."""

    name = "local"
    workers = 1

    def __init__(self, clf: Classifier, params: BankParams, work_dir: str | Path | None = None) -> None:
        self.clf, self.params = clf, params
        self.store = ShardStore(work_dir) if work_dir is not None else MemoryStore()
        self.where = {"host": socket.gethostname(), "pid": os.getpid()}

    def session(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def videos(self, jobs: list[VideoJob]) -> Iterator[VideoDone]:
        for job in jobs:
            res = process_video(self.clf, job.path, job.target, self.params)
            self.store.save(job.key, res)
            yield VideoDone(job.key, res.error, res.seconds, True, self.where)

    def classes(self, jobs: list[ClassJob], rsets: list[np.ndarray]):
        for job in jobs:
            rows, sec = class_rows(job.name, job.target, [self.store.load(k) for k in job.keys], rsets, self.params)
            yield job.name, rows, sec


def build(clf: Classifier, data: str | Path, classes: list[str] | None = None, params: BankParams = BankParams(),
          progress: bool = True) -> bank_mod.ConceptBank:
    """Discover and test concepts for `classes` (default: every class folder of `data`)."""
    return build_local(clf, data, classes, params, progress).bank


def build_local(clf: Classifier, data: str | Path, classes: list[str] | None = None,
                params: BankParams = BankParams(), progress: bool = True,
                work_dir: str | Path | None = None) -> BuildResult:
    """`build` with its report; with `work_dir`, per-video results are kept there as shards and a rerun reads
    them back instead of computing them again."""
    return bank_driver.run(clf, data, classes, params, LocalScheduler(clf, params, work_dir), progress)
