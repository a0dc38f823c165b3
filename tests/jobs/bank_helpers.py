"""Helpers of the bank-build tests (imported as `bank_helpers`): the small build they all share, a data set
with broken videos, and what "the same bank" means."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from pathlib import Path

import numpy as np

from ace3d.jobs.bank_params import BankParams
from ace3d.method.bank import ARRAYS, ConceptBank
from ace3d.method.concepts import ConceptParams

PARAMS = BankParams(n_random_sets=3, random_set_size=10, concepts=ConceptParams(n_clusters=8, min_members=3),
                    max_videos_per_class=3)
CLASSES = ["move_left", "move_right"]  # with the 6 random videos of the session's synthetic set: 12 videos
# broken_data(): every file of it, and enough clusters for concepts of 3 videos
BROKEN_PARAMS = dataclasses.replace(PARAMS, max_videos_per_class=0,
                                    concepts=ConceptParams(n_clusters=20, min_members=3))
RUN_DEPENDENT = ("build_seconds", "bank_id")  # the build's duration, and the hash that covers it


def assert_same_bank(a: ConceptBank, b: ConceptBank) -> None:
    """Every array equal to the byte, the same names, the same record except the build time."""
    assert a.names == b.names and len(a.names) > 0
    for k in ARRAYS:
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        assert np.array_equal(x, y), f"{k} differs by up to {np.abs(x.astype(float) - y.astype(float)).max()}"
    strip = lambda m: {k: v for k, v in m.items() if k not in RUN_DEPENDENT}  # noqa: E731
    assert strip(a.meta) == strip(b.meta)


@contextlib.contextmanager
def single_threaded():
    """What a Ray worker with one CPU runs with: torch and the BLAS/OpenMP pools at one thread. Float sums
    then add up in the same order, so the local engine's bank equals the Ray engine's to the byte."""
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)


def broken_data(synth: Path, out: Path) -> Path:
    """A copy of a few synthetic videos plus broken ones: move_left keeps 3 good videos and gains a corrupt and
    an empty file; move_right keeps 1 good video and gains a corrupt one (too few usable: left out); the
    random set gains a truncated video."""
    def copy(cls: str, n: int) -> None:
        (out / cls).mkdir(parents=True)
        for p in sorted((synth / cls).glob("*.mp4"))[:n]:
            shutil.copy(p, out / cls / p.name)

    copy("move_left", 3)
    copy("move_right", 1)
    copy("random", 4)
    (out / "move_left" / "zz_corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (out / "move_left" / "zz_empty.mp4").write_bytes(b"")
    (out / "move_right" / "zz_corrupt.mp4").write_bytes(b"not a video at all")
    good = sorted((synth / "random").glob("*.mp4"))[0].read_bytes()
    (out / "random" / "zz_truncated.mp4").write_bytes(good[: len(good) // 3])
    return out
