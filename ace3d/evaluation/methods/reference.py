"""The 3D ACE paper's recipe run as written, the speed baseline: three full-resolution scikit-image SLIC
runs, one unbatched forward per supervoxel for its ACE feature, one unbatched forward per concept for
occlusion. Deliberately unoptimised."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.evaluation.methods.base import Attribution, ExplanationMethod, region_heatmap
from ace3d.method import features as feats
from ace3d.method.removal import remove
from ace3d.method.supervoxels import PAPER, Supervoxels, segment
from ace3d.method.video import Clip
from ace3d.models.engine import model_input


class ReferencePipeline(ExplanationMethod):
    """Concepts of the target present in the clip, ranked by occlusion importance (target logit of the clip
    minus the target logit with the concept removed), the way the paper computes them. It always segments
    with the paper's SLIC (no `regions`: its concepts are matched on its own supervoxels; `slic` is unused)."""

    name = "reference"

    def _attribute(self, clip: Clip, target: int, regions: Supervoxels | None) -> Attribution:
        frames, engine = clip.frames, self.engine
        with torch.inference_mode():
            instance = float(engine.forward(model_input(self.clf, frames))[0, target])
        sv = segment(frames, PAPER)
        has_concepts = self.bank is not None and len(self.bank.concepts_of(target))
        shape = tuple(frames.shape[:3])
        if len(sv) == 0 or not has_concepts:
            return Attribution(masks=np.zeros((0, *shape), bool), scores=np.zeros(0),
                               heatmap=np.zeros(shape, np.float32))
        f = feats.ace(engine, frames, sv, batch_size=1)  # one forward per supervoxel, as the paper runs it
        nearest, rows = self.bank.assign(f, target)
        present = sorted(set(nearest.tolist()))
        masks = sv.concept_masks([np.flatnonzero(nearest == k) for k in present])
        importance = np.zeros(len(present))
        with torch.inference_mode():
            for j in range(len(present)):  # one forward per concept, unbatched
                removed = remove(frames, torch.from_numpy(masks[j:j + 1]))
                importance[j] = instance - float(engine.forward(model_input(self.clf, removed))[0, target])
        order = np.argsort(-importance, kind="stable")
        masks, importance = masks[order], importance[order]
        return Attribution(masks=masks, scores=importance, heatmap=region_heatmap(masks, importance, shape),
                           ids=[int(rows[present[j]]) for j in order])
