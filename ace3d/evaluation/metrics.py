"""Scores of a ranking of regions that any method can be judged by: the deletion and insertion curves and
their areas, and the flip and insertion rates `ace3d evaluate` reports. Curves run over the share of the
clip's voxels removed (or kept), so methods whose regions differ in number and size compare on one axis; with
`fill="blur"` the regions are replaced by a blur of the clip instead of the project's fill (ROAD's point: a
score that the removal operator's own artefacts carry is not the explanation's). Every function takes the
forward engine (float32 forwards, in chunks of its batch size, counted)."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ace3d.method.removal import blur_removed, remove
from ace3d.models.engine import ForwardEngine, model_input

FILLS = {"mean": remove, "blur": blur_removed}  # removal operators by name (metrics only)
REFINE_TOLERANCE = 0.02  # a sampled curve is measured region by region wherever it moves more than this


def _curve(engine: ForwardEngine, frames: np.ndarray, masks_ranked: np.ndarray, target: int, keep: bool,
           fill: str = "mean", max_points: int = 0, cache: dict | None = None,
           tolerance: float = REFINE_TOLERANCE) -> tuple[np.ndarray, np.ndarray]:
    """Target probability over the cumulative unions of the ranked regions: removed (deletion) or the only part
    kept (insertion, `keep`). x is the unions' share of the clip's voxels; the last point is x = 1.

    `max_points` > 1 measures a ranking of many regions adaptively instead of at every union: first the ends
    and, for each of `max_points - 1` even steps of x, the first union that reaches it; then, round by round,
    the union halfway between two measured neighbours whose probabilities differ by more than `tolerance`, so
    that every steep part of the curve is measured region by region and only flat stretches are interpolated
    (sampling evenly alone would smear a decisive first region over a whole step). `cache`: probabilities of
    unions already measured on this clip (the unchanged and the emptied clip are the same for every ranking),
    filled as it goes."""
    shape = tuple(frames.shape[:3])
    m = torch.from_numpy(np.asarray(masks_ranked, bool).reshape(-1, *shape))
    steps = [torch.zeros(shape, dtype=torch.bool)]
    for k in range(len(m)):
        steps.append(steps[-1] | m[k])
    if not bool(steps[-1].all()):
        steps.append(torch.ones(shape, dtype=torch.bool))
    unions = torch.stack(steps)
    removed = ~unions if keep else unions
    x = unions.flatten(1).float().mean(1).numpy().astype(np.float64)
    probs: dict[int, float] = {}

    def measure(indices: list[int]) -> None:
        keys = {i: (fill, target, hashlib.blake2b(np.packbits(removed[i].numpy()).tobytes(), digest_size=16).digest())
                for i in indices} if cache is not None else {}
        todo = [i for i in indices if i not in keys or keys[i] not in cache]
        for i in indices:
            if i not in todo:
                probs[i] = cache[keys[i]]
        with torch.inference_mode():
            for s in range(0, len(todo), engine.batch_size):  # remove() per chunk: K full clips never in memory
                idx = todo[s:s + engine.batch_size]
                logits = engine.forward(model_input(engine.clf, FILLS[fill](frames, removed[idx])))
                for i, p in zip(idx, logits.float().softmax(1)[:, target].cpu().tolist(), strict=True):
                    probs[i] = p
                    if cache is not None:
                        cache[keys[i]] = p

    measure(sampled(x, max_points).tolist())
    while True:
        known = sorted(probs)
        halves = [(a + b) // 2 for a, b in zip(known, known[1:], strict=False)
                  if b - a > 1 and abs(probs[a] - probs[b]) > tolerance]
        if not halves:
            break
        measure(halves)
    known = sorted(probs)
    return x[known], np.array([probs[i] for i in known], np.float64)


def sampled(x: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of a curve's points kept by `_curve`'s sampling: all when `max_points` < 2 or they are few."""
    if max_points < 2 or len(x) <= max_points:
        return np.arange(len(x))
    wanted = np.linspace(0.0, 1.0, max_points)[1:-1]
    inner = np.searchsorted(x, wanted - 1e-12, side="left")
    return np.unique(np.concatenate([[0], np.clip(inner, 0, len(x) - 1), [len(x) - 1]]))


def deletion_curve(engine: ForwardEngine, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                   fill: str = "mean", max_points: int = 0, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Target softmax probability as the ranked regions are removed cumulatively (`removal.remove`).

    x is the fraction of the clip's voxels removed so far (not the number of regions), so methods with
    different region counts and sizes compare on one axis. Point 0 is the unchanged clip; the last point
    is x = 1 (everything removed), added when the regions do not already cover the clip."""
    return _curve(engine, frames, masks_ranked, target, keep=False, fill=fill, max_points=max_points, cache=cache)


def deletion_auc(engine: ForwardEngine, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                 fill: str = "mean", max_points: int = 0, cache: dict | None = None) -> float:
    """Area under the deletion curve over x in [0, 1]: lower is more faithful (the prediction collapses
    after little of the clip is removed)."""
    x, y = deletion_curve(engine, frames, masks_ranked, target, fill, max_points, cache)
    return float(np.trapezoid(y, x))


def ranking_aucs(engine: ForwardEngine, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                 max_points: int = 0, cache: dict | None = None) -> dict[str, float]:
    """The three areas `ace3d evaluate` reports for a ranking: deletion with the project's fill and with a blur,
    and insertion with the project's fill (`max_points`, `cache`: see `_curve`)."""
    return {"deletion": deletion_auc(engine, frames, masks_ranked, target, "mean", max_points, cache),
            "deletion_blur": deletion_auc(engine, frames, masks_ranked, target, "blur", max_points, cache),
            "insertion": insertion_auc(engine, frames, masks_ranked, target, "mean", max_points, cache)}


def dilated(mask: np.ndarray, rim: int) -> np.ndarray:
    """A bool T x H x W mask grown by `rim` pixels within each frame (the tolerance of pointing measures)."""
    from scipy.ndimage import binary_dilation

    return np.stack([binary_dilation(f, iterations=rim) for f in mask]) if rim else mask


def peak_inside(heatmap: np.ndarray, mask: np.ndarray, rim: int) -> bool:
    """Whether the heatmap's maximum lies in `mask` grown by `rim` pixels (the pointing game's hit)."""
    return bool(dilated(mask, rim)[np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)])


def insertion_auc(engine: ForwardEngine, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                  fill: str = "mean", max_points: int = 0, cache: dict | None = None) -> float:
    """Area under the insertion curve over x in [0, 1]: higher is more faithful."""
    x, y = insertion_curve(engine, frames, masks_ranked, target, fill, max_points, cache)
    return float(np.trapezoid(y, x))


def flip_rate(engine: ForwardEngine, items: list[tuple[np.ndarray, np.ndarray, int]], pick) -> float:
    """Share of (frames, masks, label) items whose predicted class changes when the regions chosen by
    `pick(masks)` are removed (float32 forwards)."""
    if not items:
        return float("nan")
    changed = 0
    for frames, masks, label in items:
        chosen = pick(masks)
        if len(chosen) == 0:
            continue
        pred = int(engine.logits(remove(frames, torch.from_numpy(masks[chosen].any(0, keepdims=True))))[0].argmax())
        changed += pred != label
    return changed / len(items)


def insertion_accuracy(engine: ForwardEngine, items: list[tuple[np.ndarray, np.ndarray, int]], k: int) -> float:
    """Share of items still classified as their label when only the top-k regions are kept."""
    if not items:
        return float("nan")
    hits = 0
    for frames, masks, label in items:
        keep = masks[:k].any(0) if len(masks) else np.zeros(frames.shape[:3], bool)
        pred = int(engine.logits(remove(frames, torch.from_numpy(~keep)[None]))[0].argmax())
        hits += pred == label
    return hits / len(items)


def insertion_curve(engine: ForwardEngine, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                    fill: str = "mean", max_points: int = 0,
                    cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Target softmax probability as the ranked regions are put back into an emptied clip, most important
    first (everything else removed by `removal.remove`). x is the fraction of voxels kept; higher area is more
    faithful (the prediction returns after little of the clip is back)."""
    return _curve(engine, frames, masks_ranked, target, keep=True, fill=fill, max_points=max_points, cache=cache)
