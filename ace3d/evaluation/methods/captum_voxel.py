"""Captum's voxel-level methods: IntegratedGradients (gradients along a path from a baseline clip) and
Occlusion (a sliding 3D window replaced by the baseline). Both use the clip's per-pixel temporal mean as the
baseline, as the other methods here take moving content out; their voxel attributions (summed over colour
channels) are ranked over the same supervoxels as the region methods, by their mean inside each."""

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
from ace3d.evaluation.methods.captum_ablation import labels_near
from ace3d.method.explainer import Explainer
from ace3d.method.slic_params import SlicParams
from ace3d.method.supervoxels import Supervoxels, segment
from ace3d.method.video import Clip
from ace3d.models.classifier import Classifier
from ace3d.models.engine import model_input


class _CaptumVoxel(ExplanationMethod):
    def __init__(self, clf: Classifier, slic: SlicParams | None = None) -> None:
        self.clf, self.slic = clf, slic or SlicParams()

    @classmethod
    def from_explainer(cls, explainer: Explainer) -> _CaptumVoxel:
        return cls(explainer.clf, explainer.slic)

    def voxel_attribution(self, forward, x: torch.Tensor, baseline: torch.Tensor, target: int) -> torch.Tensor:
        raise NotImplementedError

    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution:
        """`regions`, when given, must come from SLIC with this method's `slic.n_segments`."""
        timer, net = Timer(), CountingClassifier(self.clf)
        sv = regions if regions is not None else segment(clip.frames, self.slic, self.clf.device)
        x = model_input(self.clf, clip.frames)  # 1 x 3 x T x H x W
        baseline = x.mean(dim=2, keepdim=True).expand_as(x).contiguous()
        attr = self.voxel_attribution(net.logits, x, baseline, target)
        voxel = attr[0].sum(0).detach().cpu().numpy().astype(np.float64)  # T x H x W
        masks, scores, ids = rank_by_regions(voxel, labels_near(sv, self.slic.n_segments))
        return Attribution(masks=masks, scores=scores, heatmap=positive_heatmap(voxel), forwards=net.forwards,
                           clips_evaluated=net.clips, seconds=timer.seconds, ids=ids)


class IntegratedGradientsMethod(_CaptumVoxel):
    name = "integrated_gradients"
    n_steps = 16  # points on the path; each is one clip through the network and back
    internal_batch_size = 8

    def voxel_attribution(self, forward, x, baseline, target):
        from captum.attr import IntegratedGradients

        return IntegratedGradients(forward).attribute(x, baselines=baseline, target=target, n_steps=self.n_steps,
                                                      internal_batch_size=self.internal_batch_size)


class OcclusionMethod(_CaptumVoxel):
    name = "occlusion"

    def voxel_attribution(self, forward, x, baseline, target):
        from captum.attr import Occlusion

        t, h, w = x.shape[2:]
        window = (3, max(1, t // 4), max(1, h // 4), max(1, w // 4))  # a quarter of the clip in each of T, H, W
        strides = (3, max(1, t // 8), max(1, h // 8), max(1, w // 8))  # half a window
        with torch.no_grad():
            return Occlusion(forward).attribute(x, sliding_window_shapes=window, strides=strides, baselines=baseline,
                                                target=target, perturbations_per_eval=16)
