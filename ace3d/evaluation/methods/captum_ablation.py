"""Captum's FeatureAblation over supervoxels: a standard library's answer to the same question. Each segment
is replaced by the clip's per-pixel temporal mean (what stays when the moving content is taken out, as the
project's removal does); segments are ranked by attribution, most positive first."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.evaluation.methods.over_segments import OverSegments
from ace3d.method.bank import ConceptBank
from ace3d.method.supervoxels import SlicParams
from ace3d.models.engine import ForwardEngine


class CaptumFeatureAblation(OverSegments):
    name = "captum_feature_ablation"

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None, slic: SlicParams | None = None,
                 perturbations_per_eval: int = 16) -> None:
        super().__init__(engine, bank=bank, slic=slic)
        self.perturbations_per_eval = perturbations_per_eval

    def voxel_attribution(self, x, baseline, target, labels):
        from captum.attr import FeatureAblation  # imported here: only evaluation needs captum

        lab = torch.from_numpy(np.ascontiguousarray(labels).astype(np.int64)).to(self.clf.device)
        with torch.no_grad():
            attr = FeatureAblation(self.engine.forward).attribute(x, baselines=baseline, target=target,
                                                         feature_mask=lab[None, None].expand_as(x),
                                                         perturbations_per_eval=self.perturbations_per_eval)
        return attr[0, 0]  # every voxel of a segment, in every channel, carries the segment's attribution
