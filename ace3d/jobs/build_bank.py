"""`ace3d build-bank`: the offline half of 3D ACE, from videos per class to a ConceptBank file.

videos -> clips -> supervoxels -> features -> concepts (k-means + popularity) -> CAVs against random sets
-> TCAV scores and paired t-tests -> Benjamini-Hochberg -> thumbnails -> bank."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ace3d.errors import Ace3dError
from ace3d.jobs.synth import RANDOM_DIR, list_videos
from ace3d.method import bank as bank_mod
from ace3d.method import features as feats
from ace3d.method import tcav
from ace3d.method.concepts import ConceptParams, discover
from ace3d.method.supervoxels import SlicParams, Supervoxels, segment
from ace3d.method.video import make_clips, read_file
from ace3d.models import Classifier

THUMB = 32


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


@dataclass
class _Seen:
    """Everything kept from one video: its clip, supervoxels and feature rows."""

    frames: np.ndarray
    supervoxels: Supervoxels
    features: np.ndarray


def _process(clf: Classifier, path: Path, params: BankParams) -> _Seen:
    clip = make_clips(read_file(path), clf.clip_shape, frame_rate=clf.frame_rate)[0]
    sv = segment(clip.frames, params.slic)
    return _Seen(clip.frames, sv, feats.extract(clf, clip.frames, sv, params.feature_mode))


def thumbnail(frames: np.ndarray, mask: np.ndarray, size: int = THUMB) -> np.ndarray:
    """A supervoxel on its middle frame: cropped to its box, the rest greyed, resized to size x size."""
    ts = np.flatnonzero(mask.any(axis=(1, 2)))
    t = int(ts[len(ts) // 2])
    ys, xs = np.flatnonzero(mask[t].any(1)), np.flatnonzero(mask[t].any(0))
    img = np.where(mask[t][..., None], frames[t], (frames[t] * 0.3 + 90).astype(np.uint8))
    crop = img[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float()
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)[0] \
        .permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def build(clf: Classifier, data: str | Path, classes: list[str] | None = None, params: BankParams = BankParams(),
          progress: bool = True) -> bank_mod.ConceptBank:
    """Discover and test concepts for `classes` (default: every class folder of `data`)."""
    t_start = time.time()
    data = Path(data)
    videos = list_videos(data, classes)
    unknown = [c for c in videos if c not in clf.class_names]
    if unknown:
        raise Ace3dError(f"class folders {unknown} are not classes of the model ({clf.class_names[:8]}...)")
    if not videos:
        raise Ace3dError(f"no class videos found under {data}")
    randoms = sorted((data / RANDOM_DIR).glob("*.mp4")) if (data / RANDOM_DIR).is_dir() else []
    if len(randoms) < 2:
        raise Ace3dError(f"need random videos for CAVs in {data / RANDOM_DIR} (at least 2; "
                         f"`ace3d synth` writes them)")
    rng = np.random.default_rng(params.seed)

    # Random videos: the negative sets of every CAV, and the baseline feature.
    rand_rows = [_process(clf, p, params).features for p in tqdm(randoms, desc="random videos", disable=not progress)]
    pool = np.concatenate(rand_rows)
    rsets = tcav.random_sets(pool, params.n_random_sets, params.random_set_size, rng)

    per_class: dict[str, list[dict]] = {}
    all_rows: list[dict] = []
    for cname, paths in videos.items():
        if params.max_videos_per_class:
            paths = paths[: params.max_videos_per_class]
        target = clf.class_names.index(cname)
        seen = [_process(clf, p, params) for p in tqdm(paths, desc=f"{cname}: supervoxels+features",
                                                         disable=not progress)]
        x = np.concatenate([s.features for s in seen])
        vid = np.concatenate([np.full(len(s.features), i) for i, s in enumerate(seen)])
        local = np.concatenate([np.arange(len(s.features)) for s in seen])
        grads = tcav.pooled_gradients(clf, [feats.clip_tensor(clf, s.frames) for s in seen], target)
        found = discover(x, vid, params.concepts)
        rows = []
        for n, concept in enumerate(tqdm(found, desc=f"{cname}: TCAV", disable=not progress)):
            res = tcav.concept_tcav(x[concept.members], rsets, grads, seed=params.seed)
            thumbs = [thumbnail(seen[vid[m]].frames, seen[vid[m]].supervoxels.mask(int(local[m])))
                      for m in concept.members[: params.thumbnails]]
            while len(thumbs) < params.thumbnails:
                thumbs.append(np.zeros((THUMB, THUMB, 3), np.uint8))
            rows.append({"name": f"{cname}/concept_{n + 1}", "class_index": target, "centroid": concept.centroid,
                         "cav": res.cav, "tcav": float(res.scores.mean()), "tcav_std": float(res.scores.std()),
                         "p_raw": res.p_raw, "members": concept.size, "videos": concept.videos,
                         "thumbnails": np.stack(thumbs)})
        per_class[cname] = rows
        all_rows.extend(rows)
    if not all_rows:
        raise Ace3dError("no concept passed the popularity filters; use more videos per class or lower "
                         "--min-members")
    p_raw = np.array([r["p_raw"] for r in all_rows])
    arrays = {
        "class_index": np.array([r["class_index"] for r in all_rows], np.int32),
        "centroid": np.stack([r["centroid"] for r in all_rows]).astype(np.float32),
        "cav": np.stack([r["cav"] for r in all_rows]).astype(np.float32),
        "tcav": np.array([r["tcav"] for r in all_rows], np.float32),
        "tcav_std": np.array([r["tcav_std"] for r in all_rows], np.float32),
        "p_raw": p_raw,
        "p_corrected": tcav.benjamini_hochberg(p_raw),
        "members": np.array([r["members"] for r in all_rows], np.int32),
        "videos": np.array([r["videos"] for r in all_rows], np.int32),
        "thumbnails": np.stack([r["thumbnails"] for r in all_rows]),
        "baseline_feature": pool.mean(0).astype(np.float32),
    }
    meta = {
        "format": bank_mod.FORMAT, "version": bank_mod.VERSION,
        "model": {"name": clf.name, "fingerprint": clf.fingerprint, "layer": clf.layer,
                  "clip_shape": list(clf.clip_shape), "mean": list(clf.mean), "std": list(clf.std)},
        "class_names": list(clf.class_names), "classes_built": list(videos), "feature_mode": params.feature_mode,
        "slic": params.slic.to_dict(),
        "concepts": {"n_clusters": params.concepts.n_clusters, "min_members": params.concepts.min_members,
                     "max_members": params.concepts.max_members},
        "n_random_sets": params.n_random_sets, "random_set_size": params.random_set_size,
        "random_videos": len(randoms), "alpha": params.alpha, "correction": "benjamini-hochberg",
        "test": "paired t-test of TCAV scores, concept vs random-vs-random, per random set",
        "videos_per_class": {c: min(len(v), params.max_videos_per_class or len(v)) for c, v in videos.items()},
        "build_seconds": round(time.time() - t_start, 1), "seed": params.seed,
    }
    meta["bank_id"] = bank_mod.content_id(arrays, meta)
    return bank_mod.ConceptBank(meta=meta, names=[r["name"] for r in all_rows], **arrays)
