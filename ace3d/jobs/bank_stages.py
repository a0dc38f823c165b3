"""The two stages of a bank build, as plain functions that any scheduler can call: the driver (bank_driver.py)
runs them through the local scheduler (build_bank.py: in this process) or the Ray one (bank_ray.py: an actor
pool and tasks). One implementation, so both give the same bank.

map stage, per video:  decode -> clip -> supervoxels -> features (+ the target logit's gradient and a
                       thumbnail of every supervoxel for class videos) = a `VideoResult`
per-class stage:       k-means + popularity filters -> CAVs against the random sets -> TCAV + t-test rows
driver:                random sets from the random videos' features, Benjamini-Hochberg, the bank file"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ace3d.errors import Ace3dError
from ace3d.method import bank as bank_mod
from ace3d.method import features as feats
from ace3d.method import tcav
from ace3d.method.concepts import discover
from ace3d.method.stills import THUMB, thumbnail
from ace3d.method.supervoxels import segment
from ace3d.method.video import make_clips, read_file
from ace3d.models import Classifier
from ace3d.models.engine import ForwardEngine

RANDOM = -1  # the target of a random video: features only


@dataclass
class VideoResult:
    """What the per-class stage needs of one video: feature rows of its supervoxels, the pooled gradient of
    its class's logit (class videos), a thumbnail per supervoxel (class videos), time per step, and the
    reason it could not be used (`error`, then everything else is empty)."""

    features: np.ndarray  # float32 N x C
    gradient: np.ndarray  # float32 C (empty for random videos)
    thumbnails: np.ndarray  # uint8 N x THUMB x THUMB x 3 (0 rows for random videos)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str = ""

    @classmethod
    def failed(cls, reason: str, seconds: dict[str, float] | None = None) -> VideoResult:
        return cls(np.zeros((0, 0), np.float32), np.zeros(0, np.float32), np.zeros((0, THUMB, THUMB, 3), np.uint8),
                   seconds or {}, reason)


def process_video(clf: Classifier, path: str | Path, target: int, params) -> VideoResult:
    """The map stage for one video (`params`: a BankParams). A video that cannot be decoded or clipped is not
    an error of the build: its result carries the reason and the build goes on without it."""
    sec: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        clip = make_clips(read_file(path), clf.clip_shape, frame_rate=clf.frame_rate)[0]
    except (Ace3dError, OSError, IndexError, ValueError) as exc:  # IndexError: no clip in the video
        return VideoResult.failed(f"{type(exc).__name__}: {exc}", {"decode": time.perf_counter() - t0})
    t1 = time.perf_counter()
    sv = segment(clip.frames, params.slic, device=clf.device)  # on a GPU node, SLIC runs there too
    t2 = time.perf_counter()
    act, engine = None, ForwardEngine(clf)
    if params.feature_mode == "pooled" and target != RANDOM:  # one trunk forward for features and gradient
        with torch.no_grad():
            act = engine.trunk(feats.clip_tensor(clf, clip.frames))
            x = feats.pool(act, sv)
    else:
        x = feats.extract(engine, clip.frames, sv, params.feature_mode)
    t3 = time.perf_counter()
    sec.update(decode=t1 - t0, supervoxels=t2 - t1, features=t3 - t2)
    if target == RANDOM:
        return VideoResult(x, np.zeros(0, np.float32), np.zeros((0, THUMB, THUMB, 3), np.uint8), sec)
    grad = tcav.activation_gradient(clf, act, target) if act is not None else \
        tcav.pooled_gradients(engine, [feats.clip_tensor(clf, clip.frames)], target)[0]
    t4 = time.perf_counter()
    thumbs = np.stack([thumbnail(clip.frames, sv.mask(i)) for i in range(len(sv))]) if len(sv) else \
        np.zeros((0, THUMB, THUMB, 3), np.uint8)
    sec.update(gradients=t4 - t3, thumbnails=time.perf_counter() - t4)
    return VideoResult(x, grad.astype(np.float32), thumbs, sec)


def random_sets(pool_rows: list[np.ndarray], params) -> tuple[np.ndarray, list[np.ndarray]]:
    """The random videos' features in order, and the random sets every CAV is trained against (drawn with the
    build's seed: the only random draw of a build outside k-means and the CAVs' own seeds)."""
    pool = np.concatenate(pool_rows)
    return pool, tcav.random_sets(pool, params.n_random_sets, params.random_set_size,
                                  np.random.default_rng(params.seed))


def class_rows(cname: str, target: int, results: list[VideoResult], rsets: list[np.ndarray], params,
               progress: bool = False) -> tuple[list[bank_mod.ConceptRow], dict[str, float]]:
    """The per-class stage: concepts of one class's usable videos (in order), each tested with TCAV. Returns
    the bank rows (p-values raw; the correction spans all classes) and the seconds of each step."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    x = np.concatenate([r.features for r in results])
    vid = np.concatenate([np.full(len(r.features), i) for i, r in enumerate(results)])
    local = np.concatenate([np.arange(len(r.features)) for r in results])
    grads = np.stack([r.gradient for r in results])
    found = discover(x, vid, params.concepts)
    t1 = time.perf_counter()
    rows = []
    for n, concept in enumerate(tqdm(found, desc=f"{cname}: TCAV", disable=not progress)):
        res = tcav.concept_tcav(x[concept.members], rsets, grads, seed=params.seed)
        thumbs = [results[vid[m]].thumbnails[local[m]] for m in concept.members[: params.thumbnails]]
        while len(thumbs) < params.thumbnails:
            thumbs.append(np.zeros((THUMB, THUMB, 3), np.uint8))
        rows.append(bank_mod.ConceptRow(f"{cname}/concept_{n + 1}", target, concept.centroid, res.cav,
                                        float(res.scores.mean()), float(res.scores.std()), res.p_raw, concept.size,
                                        concept.videos, np.stack(thumbs)))
    return rows, {"concepts": t1 - t0, "tcav": time.perf_counter() - t1}


def assemble(clf: Classifier, rows: list[bank_mod.ConceptRow], pool: np.ndarray, params, classes_built: list[str],
             videos_per_class: dict[str, int], random_videos: int, seconds: float,
             extra_meta: dict | None = None) -> bank_mod.ConceptBank:
    """The driver's last step: every class's rows into one bank, p-values corrected across all concepts."""
    if not rows:
        raise Ace3dError("no concept passed the popularity filters; use more videos per class or lower "
                         "--min-members")
    p_corrected = tcav.benjamini_hochberg(np.array([r.p_raw for r in rows]))
    return bank_mod.from_rows(rows, p_corrected, pool.mean(0), clf, params, classes_built=classes_built,
                              videos_per_class=videos_per_class, random_videos=random_videos, seconds=seconds,
                              extra=extra_meta)
