"""`ace3d evaluate`: evidence that explanations are faithful, measured against the synthetic ground truth,
for any method behind the one interface (methods/; the default is the product's own, 3D ACE).

- accuracy of the model;
- deletion: of the correctly classified videos, the share whose prediction changes when the top-1 / top-3
  regions are removed, beside removing random and bottom-ranked regions (same removal operator);
- insertion: accuracy when only the top-k regions are kept (everything else removed);
- deletion and insertion AUC over the share of voxels removed / kept, in the method's order, with the
  project's fill and (deletion) with a blur (metrics.py);
- localisation: pointing game (heatmap maximum inside the actor mask dilated by 2 px) and the IoU of
  the top region's voxels with the actor."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ace3d.datasets import list_videos, mask_path
from ace3d.evaluation.methods.base import ExplanationMethod
from ace3d.evaluation.metrics import flip_rate, insertion_accuracy, peak_inside, ranking_aucs
from ace3d.method.video import Clip, make_clips, read_file, resize_frames
from ace3d.models.engine import ForwardEngine


def clip_mask(mask: np.ndarray, clip: Clip) -> np.ndarray:
    """The ground-truth mask (T x H x W at the source size) cut and resized exactly like the clip."""
    x, y, w, h = clip.region
    m = mask[clip.frame_indices, y:y + h, x:x + w]
    up = resize_frames(np.repeat(m[..., None].astype(np.uint8) * 255, 3, axis=-1), clip.frames.shape[1:3])
    return up[..., 0] >= 128


ROWS = (("accuracy", ("accuracy",)), ("top-1 deletion", ("deletion", "top1")),
        ("random-1 deletion", ("deletion", "random1")), ("top-3 deletion", ("deletion", "top3")),
        ("insertion, top-1 kept", ("insertion", "top1")), ("insertion, top-3 kept", ("insertion", "top3")),
        ("deletion AUC (lower: better)", ("auc", "deletion")),
        ("deletion AUC, blur fill", ("auc", "deletion_blur")), ("insertion AUC (higher: better)", ("auc", "insertion")),
        ("pointing game", ("pointing_game",)), ("IoU of the top region, median", ("iou_top_concept_median",)),
        ("regions per clip", ("concepts_per_clip_mean",)), ("seconds per explanation", ("method_seconds_mean",)))


def table(results: dict[str, dict]) -> str:
    """One plain-text table of `evaluate` results, a column per method."""
    names = list(results)
    lines = [f"{'measure':<30}" + "".join(f"{n:>24}" for n in names)]
    for label, path in ROWS:
        values = []
        for n in names:
            v = results[n]
            for key in path:
                v = v[key]
            values.append(f"{v:>24.3f}")
        lines.append(f"{label:<30}" + "".join(values))
    return "\n".join(lines)


def evaluate(engine: ForwardEngine, method: ExplanationMethod, data: str | Path, limit: int = 0, seed: int = 0,
             progress: bool = True) -> dict:
    """Every measure above for `method`, on the first clip of each video of `data` (`limit` per class)."""
    t0 = time.time()
    rng = np.random.default_rng(seed)
    classes = engine.clf.class_names
    videos = list_videos(data, [c for c in classes if (Path(data) / c).is_dir()])
    results: list[tuple[np.ndarray, np.ndarray, int]] = []  # (frames, ranked masks, label) of every video
    correct: list[tuple[np.ndarray, np.ndarray, int]] = []
    pointing, ious, seconds = [], [], []
    aucs: dict[str, list[float]] = {"deletion": [], "deletion_blur": [], "insertion": []}
    total = hits = 0
    for cname, paths in videos.items():
        label = classes.index(cname)
        for p in tqdm(paths[:limit] if limit else paths, desc=f"evaluate {cname}", disable=not progress):
            clip = make_clips(read_file(p), engine.clf.clip_shape, frame_rate=engine.clf.frame_rate)[0]
            _, logits = engine.classify([clip.frames])
            target = int(logits[0].argmax())
            a = method.attribute(clip, target)
            seconds.append(a.seconds)
            total += 1
            results.append((clip.frames, a.masks, label))
            if target != label:
                continue
            hits += 1
            correct.append((clip.frames, a.masks, label))
            if len(a.masks):
                for k, v in ranking_aucs(engine, clip.frames, a.masks, target).items():
                    aucs[k].append(v)
            mp = mask_path(p)
            if mp.exists():
                gt = clip_mask(np.load(mp, allow_pickle=False)["mask"], clip)
                if gt.any() and a.heatmap.max() > 0:
                    pointing.append(peak_inside(a.heatmap, gt, 2))
                if gt.any() and len(a.masks):
                    top = a.masks[0]
                    ious.append(float((top & gt).sum() / max(1, (top | gt).sum())))

    def random_k(k):
        return lambda m: rng.choice(len(m), size=min(k, len(m)), replace=False)

    return {
        "videos": total,
        "accuracy": hits / max(1, total),
        "correct": len(correct),
        "deletion": {
            "top1": flip_rate(engine, correct, lambda m: np.arange(min(1, len(m)))),
            "top3": flip_rate(engine, correct, lambda m: np.arange(min(3, len(m)))),
            "random1": flip_rate(engine, correct, random_k(1)),
            "random3": flip_rate(engine, correct, random_k(3)),
            "bottom1": flip_rate(engine, correct, lambda m: np.arange(len(m))[-1:]),
            "bottom3": flip_rate(engine, correct, lambda m: np.arange(len(m))[-3:]),
        },
        "insertion": {f"top{k}": insertion_accuracy(engine, correct, k) for k in (1, 3)},
        "auc": {k: float(np.mean(v)) if v else float("nan") for k, v in aucs.items()},
        "pointing_game": float(np.mean(pointing)) if pointing else float("nan"),
        "iou_top_concept_median": float(np.median(ious)) if ious else float("nan"),
        "iou_top_concept_mean": float(np.mean(ious)) if ious else float("nan"),
        "concepts_per_clip_mean": float(np.mean([len(m) for _, m, _ in results])) if results else 0.0,
        "method_seconds_mean": float(np.mean(seconds)) if seconds else 0.0,
        "seconds": round(time.time() - t0, 1),
    }
