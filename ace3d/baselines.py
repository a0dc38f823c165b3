"""Comparison methods for `ace3d bench`, and the deletion metric that scores any ranking of regions.

reference_pipeline  the 3D ACE paper's recipe run as written: three full-resolution scikit-image SLIC runs,
                    one unbatched forward per supervoxel for its ACE feature, one unbatched forward per
                    concept for occlusion. Deliberately unoptimised: it is the speed baseline.
captum_ablation     captum's FeatureAblation over one set of supervoxel labels, each segment replaced by the
                    clip's per-pixel temporal mean: a standard library's answer to the same question.
deletion_curve/auc  remove regions most important first and watch the target probability fall; the faster
                    it collapses, the more faithful the ranking.

Every method reports its forward calls and the clips that went through the network, counted by wrapping
the model rather than derived, so the counts stay true if an implementation changes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ace3d import features as feats
from ace3d.bank import ConceptBank
from ace3d.explain import remove
from ace3d.models import Classifier
from ace3d.supervoxels import PAPER, segment

REFERENCE_SLIC = PAPER  # three full-resolution scikit-image runs, as the paper's code does


@dataclass
class Ranked:
    """Regions of one clip, most important first, and what finding them cost."""

    masks: np.ndarray  # bool K x T x H x W
    scores: np.ndarray  # float K: importance (reference) or attribution (captum), descending
    forwards: int  # forward calls through the network (a batch counts once)
    clips_evaluated: int  # clips through the network (a batch counts its size)
    seconds: float  # wall time of the whole method
    ids: list[int] = field(default_factory=list)  # bank rows (reference) or segment labels (captum)


class _Counted:
    """A Classifier stand-in that counts every trunk call (every forward goes through the trunk) and the
    clips in it, so the reported cost is measured, not assumed."""

    def __init__(self, clf: Classifier) -> None:
        self.clf = clf
        self.forwards = 0
        self.clips = 0

    def __getattr__(self, name: str):
        return getattr(self.clf, name)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        self.forwards += 1
        self.clips += int(x.shape[0])
        return self.clf.trunk(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.clf.head(self.trunk(x))


def _normalise(clf: Classifier, batch: torch.Tensor) -> torch.Tensor:
    """K x T x H x W x 3 float clips in 0..255 (what `remove` returns) -> the network's K x 3 x T x H x W."""
    mean, std = clf.pixel_scale(batch.device)
    return ((batch - mean) / std).permute(0, 4, 1, 2, 3).to(clf.device)


def reference_pipeline(clf: Classifier, bank: ConceptBank, frames: np.ndarray, target: int) -> Ranked:
    """Concepts of `target` present in the clip, ranked by occlusion importance (target logit of the clip
    minus the target logit with the concept removed), the way the 3D ACE paper computes them."""
    t0 = time.perf_counter()
    net = _Counted(clf)
    with torch.inference_mode():
        instance = float(net.logits(feats.clip_tensor(clf, frames))[0, target])
    sv = segment(frames, REFERENCE_SLIC)
    rows = bank.concepts_of(target)
    shape = tuple(frames.shape[:3])
    if len(sv) == 0 or len(rows) == 0:
        return Ranked(np.zeros((0, *shape), bool), np.zeros(0), net.forwards, net.clips,
                      time.perf_counter() - t0)
    f = feats.ace(net, frames, sv, batch_size=1)  # one forward per supervoxel, as the paper runs it
    nearest = torch.cdist(torch.from_numpy(f), torch.from_numpy(bank.centroid[rows])).argmin(1).numpy()
    present = sorted(set(nearest.tolist()))
    masks = sv.concept_masks([np.flatnonzero(nearest == k) for k in present])
    importance = np.zeros(len(present))
    with torch.inference_mode():
        for j in range(len(present)):  # one forward per concept, unbatched
            removed = remove(frames, torch.from_numpy(masks[j:j + 1]))
            importance[j] = instance - float(net.logits(_normalise(clf, removed))[0, target])
    order = np.argsort(-importance, kind="stable")
    return Ranked(masks[order], importance[order], net.forwards, net.clips, time.perf_counter() - t0,
                  [int(rows[present[j]]) for j in order])


def captum_ablation(clf: Classifier, frames: np.ndarray, labels: np.ndarray, target: int,
                    perturbations_per_eval: int = 16) -> Ranked:
    """captum FeatureAblation with the segments of `labels` (T x H x W int) as features, each replaced by
    the clip's per-pixel temporal mean (what stays when the moving content is taken out, as `remove` does);
    segments ranked by attribution, most positive first."""
    from captum.attr import FeatureAblation  # imported here: only the benchmark needs captum

    t0 = time.perf_counter()
    net = _Counted(clf)

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return net.logits(x)

    x = feats.clip_tensor(clf, frames)  # 1 x 3 x T x H x W
    baseline = x.mean(dim=2, keepdim=True).expand_as(x).contiguous()
    lab = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64)).to(clf.device)
    mask = lab[None, None].expand_as(x)
    attr = FeatureAblation(forward).attribute(x, baselines=baseline, target=target, feature_mask=mask,
                                              perturbations_per_eval=perturbations_per_eval)
    ids = np.unique(labels)
    # every voxel of a segment carries the segment's attribution: read it at one voxel of each
    first = np.unique(np.asarray(labels).ravel(), return_index=True)[1]
    scores = attr[0, 0].reshape(-1).cpu().numpy()[first].astype(np.float64)
    order = np.argsort(-scores, kind="stable")
    masks = np.asarray(labels)[None] == ids[order][:, None, None, None]
    return Ranked(masks, scores[order], net.forwards, net.clips, time.perf_counter() - t0,
                  [int(i) for i in ids[order]])


def deletion_curve(clf: Classifier, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                   batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Target softmax probability as the ranked regions are removed cumulatively (`explain.remove`).

    x is the fraction of the clip's voxels removed so far (not the number of regions), so methods with
    different region counts and sizes compare on one axis. Point 0 is the unchanged clip; the last point
    is x = 1 (everything removed), added when the regions do not already cover the clip."""
    shape = tuple(frames.shape[:3])
    m = torch.from_numpy(np.asarray(masks_ranked, bool).reshape(-1, *shape))
    steps = [torch.zeros(shape, dtype=torch.bool)]
    for k in range(len(m)):
        steps.append(steps[-1] | m[k])
    if not bool(steps[-1].all()):
        steps.append(torch.ones(shape, dtype=torch.bool))
    unions = torch.stack(steps)
    x = unions.flatten(1).float().mean(1).numpy().astype(np.float64)
    probs = []
    with torch.inference_mode():
        for i in range(0, len(unions), batch_size):  # remove() per chunk: K full clips never sit in memory
            logits = clf.logits(_normalise(clf, remove(frames, unions[i:i + batch_size])))
            probs.append(logits.float().softmax(1)[:, target].cpu())
    return x, torch.cat(probs).numpy().astype(np.float64)


def deletion_auc(clf: Classifier, frames: np.ndarray, masks_ranked: np.ndarray, target: int,
                 batch_size: int = 16) -> float:
    """Area under the deletion curve over x in [0, 1]: lower is more faithful (the prediction collapses
    after little of the clip is removed)."""
    x, y = deletion_curve(clf, frames, masks_ranked, target, batch_size)
    return float(np.trapezoid(y, x))


__all__ = ["Ranked", "captum_ablation", "deletion_auc", "deletion_curve", "reference_pipeline"]
