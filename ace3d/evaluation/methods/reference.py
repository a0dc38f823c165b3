"""The 3D ACE paper's recipe run as written, the speed baseline: three full-resolution scikit-image SLIC
runs, one unbatched forward per supervoxel for its ACE feature, one unbatched forward per concept for
occlusion. Deliberately unoptimised."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.evaluation.methods.base import Attribution, CountingClassifier, ExplanationMethod, Timer, region_heatmap
from ace3d.method import features as feats
from ace3d.method.bank import ConceptBank
from ace3d.method.explainer import Explainer
from ace3d.method.removal import remove
from ace3d.method.supervoxels import PAPER, Supervoxels, segment
from ace3d.method.video import Clip
from ace3d.models.classifier import Classifier
from ace3d.models.engine import model_input


class ReferencePipeline(ExplanationMethod):
    """Concepts of the target present in the clip, ranked by occlusion importance (target logit of the clip
    minus the target logit with the concept removed), the way the paper computes them. It always segments
    with the paper's SLIC (`regions` is ignored: its concepts are matched on its own supervoxels)."""

    name = "reference"

    def __init__(self, clf: Classifier, bank: ConceptBank) -> None:
        self.clf, self.bank = clf, bank

    @classmethod
    def from_explainer(cls, explainer: Explainer) -> ReferencePipeline:
        return cls(explainer.clf, explainer.bank)

    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution:
        timer, net, frames = Timer(), CountingClassifier(self.clf), clip.frames
        with torch.inference_mode():
            instance = float(net.logits(model_input(self.clf, frames))[0, target])
        sv = segment(frames, PAPER)
        rows = self.bank.concepts_of(target) if self.bank is not None else []
        shape = tuple(frames.shape[:3])
        if len(sv) == 0 or len(rows) == 0:
            return Attribution(masks=np.zeros((0, *shape), bool), scores=np.zeros(0),
                               heatmap=np.zeros(shape, np.float32), forwards=net.forwards, clips_evaluated=net.clips,
                               seconds=timer.seconds)
        f = feats.ace(net, frames, sv, batch_size=1)  # one forward per supervoxel, as the paper runs it
        nearest = torch.cdist(torch.from_numpy(f), torch.from_numpy(self.bank.centroid[rows])).argmin(1).numpy()
        present = sorted(set(nearest.tolist()))
        masks = sv.concept_masks([np.flatnonzero(nearest == k) for k in present])
        importance = np.zeros(len(present))
        with torch.inference_mode():
            for j in range(len(present)):  # one forward per concept, unbatched
                removed = remove(frames, torch.from_numpy(masks[j:j + 1]))
                importance[j] = instance - float(net.logits(model_input(self.clf, removed))[0, target])
        order = np.argsort(-importance, kind="stable")
        masks, importance = masks[order], importance[order]
        return Attribution(masks=masks, scores=importance, heatmap=region_heatmap(masks, importance, shape),
                           forwards=net.forwards, clips_evaluated=net.clips, seconds=timer.seconds,
                           ids=[int(rows[present[j]]) for j in order])
