"""What the voxel- and segment-level comparison methods share: the clip's supervoxels at the resolution nearest
50 segments, the clip's per-pixel temporal mean as the baseline, forwards counted, and a voxel attribution
ranked over the segments by its mean inside each. A subclass says only how it gets the voxel attribution."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.evaluation.methods.base import (
    Attribution,
    CountingClassifier,
    ExplanationMethod,
    Timer,
    positive_heatmap,
    rank_by_regions,
)
from ace3d.method.explainer import Explainer
from ace3d.method.supervoxels import SlicParams, Supervoxels, segment
from ace3d.method.video import Clip
from ace3d.models.classifier import Classifier
from ace3d.models.engine import model_input

N_SEGMENTS = 50  # the resolution of the regions they rank (the nearest the given supervoxels have)


def labels_near(sv: Supervoxels, asked: tuple[int, ...], n_segments: int = N_SEGMENTS) -> np.ndarray:
    """The label volume of `sv` (segmented with SLIC's `asked` numbers of segments) nearest `n_segments`."""
    return sv.labels[int(np.argmin([abs(n - n_segments) for n in asked]))]


class OverSegments(ExplanationMethod):
    """A voxel attribution ranked over supervoxels (see the module's docstring)."""

    def __init__(self, clf: Classifier, slic: SlicParams | None = None) -> None:
        self.clf, self.slic = clf, slic or SlicParams()

    @classmethod
    def from_explainer(cls, explainer: Explainer) -> OverSegments:
        return cls(explainer.clf, explainer.slic)

    def voxel_attribution(self, net: CountingClassifier, x: torch.Tensor, baseline: torch.Tensor, target: int,
                          labels: np.ndarray) -> torch.Tensor:
        """T x H x W attribution of the 1 x 3 x T x H x W input `x` against `baseline`; every forward goes
        through `net` so that it is counted."""
        raise NotImplementedError

    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution:
        """`regions`, when given, must come from SLIC with this method's `slic.n_segments`."""
        timer, net = Timer(), CountingClassifier(self.clf)
        sv = regions if regions is not None else segment(clip.frames, self.slic, self.clf.device)
        labels = labels_near(sv, self.slic.n_segments)
        x = model_input(self.clf, clip.frames)  # 1 x 3 x T x H x W
        baseline = x.mean(dim=2, keepdim=True).expand_as(x).contiguous()
        attr = self.voxel_attribution(net, x, baseline, target, labels)
        voxel = np.asarray(attr.detach().cpu().numpy() if isinstance(attr, torch.Tensor) else attr, np.float64)
        masks, scores, ids = rank_by_regions(voxel, labels)
        return Attribution(masks=masks, scores=scores, heatmap=positive_heatmap(voxel), forwards=net.forwards,
                           clips_evaluated=net.clips, seconds=timer.seconds, ids=ids)
