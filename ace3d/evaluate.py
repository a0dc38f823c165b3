"""`ace3d evaluate`: evidence that explanations are faithful, measured against the synthetic ground truth.

- accuracy of the model;
- deletion: of the correctly classified videos, the share whose prediction changes when the top-1 / top-3
  concepts are removed, beside removing random and bottom-ranked concepts (same removal operator);
- insertion: accuracy when only the top-k concepts are kept (everything else removed);
- localisation: pointing game (heatmap maximum inside the actor mask dilated by 2 px) and the IoU of
  the top concept's voxels with the actor."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import binary_dilation
from tqdm import tqdm

from ace3d.explain import ClipResult, Explainer, Request, remove
from ace3d.synth import list_videos, mask_path
from ace3d.video import Clip, read_file, resize_frames


def clip_mask(mask: np.ndarray, clip: Clip) -> np.ndarray:
    """The ground-truth mask (T x H x W at the source size) cut and resized exactly like the clip."""
    x, y, w, h = clip.region
    m = mask[clip.frame_indices, y:y + h, x:x + w]
    up = resize_frames(np.repeat(m[..., None].astype(np.uint8) * 255, 3, axis=-1), clip.frames.shape[1:3])
    return up[..., 0] >= 128


def _flip_rate(explainer: Explainer, items: list[tuple[ClipResult, int]], pick) -> float:
    """Share of items whose predicted class changes when the concepts chosen by `pick(r)` are removed."""
    if not items:
        return float("nan")
    changed = 0
    for r, label in items:
        chosen = pick(r)
        if len(chosen) == 0:
            continue
        mask = torch.from_numpy(r.masks[chosen].any(0, keepdims=True))
        pred = int(explainer._logits_of(remove(r.clip.frames, mask))[0].argmax())
        changed += pred != label
    return changed / len(items)


def _insertion_acc(explainer: Explainer, items: list[tuple[ClipResult, int]], k: int) -> float:
    if not items:
        return float("nan")
    hits = 0
    for r, label in items:
        keep = r.masks[:k].any(0) if len(r.masks) else np.zeros(r.clip.frames.shape[:3], bool)
        pred = int(explainer._logits_of(remove(r.clip.frames, torch.from_numpy(~keep)[None]))[0].argmax())
        hits += pred == label
    return hits / len(items)


def evaluate(explainer: Explainer, data: str | Path, limit: int = 0, seed: int = 0, progress: bool = True) -> dict:
    t0 = time.time()
    rng = np.random.default_rng(seed)
    classes = explainer.clf.class_names
    videos = list_videos(data, [c for c in classes if (Path(data) / c).is_dir()])
    results: list[tuple[ClipResult, int]] = []
    correct: list[tuple[ClipResult, int]] = []
    pointing, ious = [], []
    total = hits = 0
    for cname, paths in videos.items():
        label = classes.index(cname)
        for p in tqdm(paths[:limit] if limit else paths, desc=f"evaluate {cname}", disable=not progress):
            video = read_file(p)
            exp, res = explainer.explain(video, Request(target_class=None))
            total += 1
            if not res:
                continue
            r = res[0]
            results.append((r, label))
            if exp.target_index != label:
                continue
            hits += 1
            correct.append((r, label))
            mp = mask_path(p)
            if mp.exists():
                gt = clip_mask(np.load(mp, allow_pickle=False)["mask"], r.clip)
                if gt.any() and r.heatmap.max() > 0:
                    dil = np.stack([binary_dilation(f, iterations=2) for f in gt])
                    peak = np.unravel_index(int(np.argmax(r.heatmap)), r.heatmap.shape)
                    pointing.append(bool(dil[peak]))
                if gt.any() and len(r.masks):
                    top = r.masks[0]
                    ious.append(float((top & gt).sum() / max(1, (top | gt).sum())))

    def random_k(k):
        return lambda r: rng.choice(len(r.masks), size=min(k, len(r.masks)), replace=False)

    acc = hits / max(1, total)
    out = {
        "videos": total,
        "accuracy": acc,
        "correct": len(correct),
        "deletion": {
            "top1": _flip_rate(explainer, correct, lambda r: np.arange(min(1, len(r.masks)))),
            "top3": _flip_rate(explainer, correct, lambda r: np.arange(min(3, len(r.masks)))),
            "random1": _flip_rate(explainer, correct, random_k(1)),
            "random3": _flip_rate(explainer, correct, random_k(3)),
            "bottom1": _flip_rate(explainer, correct, lambda r: np.arange(len(r.masks))[-1:]),
            "bottom3": _flip_rate(explainer, correct, lambda r: np.arange(len(r.masks))[-3:]),
        },
        "insertion": {f"top{k}": _insertion_acc(explainer, correct, k) for k in (1, 3)},
        "pointing_game": float(np.mean(pointing)) if pointing else float("nan"),
        "iou_top_concept_median": float(np.median(ious)) if ious else float("nan"),
        "iou_top_concept_mean": float(np.mean(ious)) if ious else float("nan"),
        "concepts_per_clip_mean": float(np.mean([len(r.concept_ids) for r, _ in results])) if results else 0.0,
        "seconds": round(time.time() - t0, 1),
    }
    return out

