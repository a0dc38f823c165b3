"""What the voxel- and segment-level comparison methods share: the clip's supervoxels at the resolution nearest
50 segments, the clip's per-pixel temporal mean as the baseline, forwards counted, and a voxel attribution
ranked over the segments by its mean inside each. A subclass says only how it gets the voxel attribution."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.evaluation.methods.base import Attribution, ExplanationMethod, positive_heatmap, rank_by_regions
from ace3d.method.bank import ConceptBank
from ace3d.method.supervoxels import SlicParams, Supervoxels, segment
from ace3d.method.video import Clip
from ace3d.models.engine import ForwardEngine, model_input

N_SEGMENTS = 50  # the resolution of the regions they rank (the nearest the given supervoxels have)


def labels_near(sv: Supervoxels, asked: tuple[int, ...], n_segments: int = N_SEGMENTS) -> np.ndarray:
    """The label volume of `sv` (segmented with SLIC's `asked` numbers of segments) nearest `n_segments`."""
    return sv.labels[int(np.argmin([abs(n - n_segments) for n in asked]))]


class OverSegments(ExplanationMethod):
    """A voxel attribution ranked over supervoxels (see the module's docstring)."""

    takes_regions = True

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None,
                 slic: SlicParams | None = None) -> None:
        super().__init__(engine, bank=bank, slic=slic or SlicParams())

    def voxel_attribution(self, x: torch.Tensor, baseline: torch.Tensor, target: int,
                          labels: np.ndarray) -> torch.Tensor:
        """T x H x W attribution of the 1 x 3 x T x H x W input `x` against `baseline`; every forward goes
        through `self.engine` (`forward`: input to logits) so that it is counted."""
        raise NotImplementedError

    def _attribute(self, clip: Clip, target: int, regions: Supervoxels | None) -> Attribution:
        """`regions`, when given, must come from SLIC with this method's `slic.n_segments`."""
        sv = regions if regions is not None else segment(clip.frames, self.slic, self.clf.device)
        labels = labels_near(sv, self.slic.n_segments)
        x = model_input(self.clf, clip.frames)  # 1 x 3 x T x H x W
        baseline = x.mean(dim=2, keepdim=True).expand_as(x).contiguous()
        attr = self.voxel_attribution(x, baseline, target, labels)
        voxel = np.asarray(attr.detach().cpu().numpy() if isinstance(attr, torch.Tensor) else attr, np.float64)
        masks, scores, ids = rank_by_regions(voxel, labels)
        return Attribution(masks=masks, scores=scores, heatmap=positive_heatmap(voxel), ids=ids)
