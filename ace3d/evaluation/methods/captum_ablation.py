"""Captum's FeatureAblation over supervoxels: a standard library's answer to the same question. Each segment
is replaced by the clip's per-pixel temporal mean (what stays when the moving content is taken out, as the
project's removal does); segments are ranked by attribution, most positive first."""

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

N_SEGMENTS = 50  # the resolution of the regions it ablates (the nearest the given supervoxels have)


def labels_near(sv: Supervoxels, asked: tuple[int, ...], n_segments: int = N_SEGMENTS) -> np.ndarray:
    """The label volume of `sv` (segmented with SLIC's `asked` numbers of segments) nearest `n_segments`."""
    return sv.labels[int(np.argmin([abs(n - n_segments) for n in asked]))]


class CaptumFeatureAblation(ExplanationMethod):
    name = "captum_feature_ablation"

    def __init__(self, clf: Classifier, slic: SlicParams | None = None, perturbations_per_eval: int = 16) -> None:
        self.clf, self.slic, self.perturbations_per_eval = clf, slic or SlicParams(), perturbations_per_eval

    @classmethod
    def from_explainer(cls, explainer: Explainer) -> CaptumFeatureAblation:
        return cls(explainer.clf, explainer.slic)

    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution:
        """`regions`, when given, must come from SLIC with this method's `slic.n_segments`."""
        from captum.attr import FeatureAblation  # imported here: only evaluation needs captum

        timer, net = Timer(), CountingClassifier(self.clf)
        sv = regions if regions is not None else segment(clip.frames, self.slic, self.clf.device)
        labels = labels_near(sv, self.slic.n_segments)

        def forward(x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return net.logits(x)

        x = model_input(self.clf, clip.frames)  # 1 x 3 x T x H x W
        baseline = x.mean(dim=2, keepdim=True).expand_as(x).contiguous()
        lab = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64)).to(self.clf.device)
        mask = lab[None, None].expand_as(x)
        attr = FeatureAblation(forward).attribute(x, baselines=baseline, target=target, feature_mask=mask,
                                                  perturbations_per_eval=self.perturbations_per_eval)
        voxel = attr[0, 0].cpu().numpy().astype(np.float64)  # every voxel of a segment carries its attribution
        masks, scores, ids = rank_by_regions(voxel, labels)
        return Attribution(masks=masks, scores=scores, heatmap=positive_heatmap(voxel), forwards=net.forwards,
                           clips_evaluated=net.clips, seconds=timer.seconds, ids=ids)
