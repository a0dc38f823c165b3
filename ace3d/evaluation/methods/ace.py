"""The product's method, 3D ACE (ace3d.method.explainer), behind the comparison interface."""

from __future__ import annotations

import numpy as np

from ace3d.evaluation.methods.base import Attribution, ExplanationMethod
from ace3d.evaluation.methods.over_segments import labels_near
from ace3d.method.bank import ConceptBank
from ace3d.method.explainer import Explainer
from ace3d.method.groups import MAX_GROUPS
from ace3d.method.slic_params import SlicParams
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip
from ace3d.models.engine import ForwardEngine

WITHIN = ("concepts", "heat")  # what a ranked region is: a whole concept, or a piece of one ranked by its heat


class AceMethod(ExplanationMethod):
    """Concepts of the target class present in the clip, ranked by the target-logit drop when removed. It
    segments with its own recipe (no `regions`): the bank's concepts were learned from those supervoxels.

    `within="heat"` ranks finer regions with no extra forward: each concept, in the concepts' order, is cut
    along the clip's segments at the comparison methods' resolution (about 50) and its pieces are ranked by the
    answer's heatmap inside them (the concept's drop shared by how much its removal changed each voxel), so
    the ranking is what the answer shows a person: which concept first, and where in it."""

    name = "ace"

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None, slic: SlicParams | None = None,
                 removal: str = "input", max_groups: int = MAX_GROUPS, within: str = "concepts") -> None:
        super().__init__(engine, bank=bank, slic=slic)
        if within not in WITHIN:
            raise ValueError(f"unknown within {within!r}: use one of {WITHIN}")
        self.within = within
        self.explainer = Explainer(engine.clf, bank, slic=slic, removal=removal, max_groups=max_groups,
                                   engine=engine)

    def _attribute(self, clip: Clip, target: int, regions: Supervoxels | None) -> Attribution:
        acts, logits = self.explainer.classify([clip])
        r = self.explainer.explain_clip(clip, acts[0], logits[0], target)
        a = Attribution(masks=r.masks, scores=r.importance, heatmap=r.heatmap, ids=r.concept_ids, detail=r)
        return self.refine(a) if self.within == "heat" else a

    def refine(self, a: Attribution) -> Attribution:
        """An attribution of whole concepts (this method's with `within="concepts"`) with its concepts cut into
        pieces ranked by heat; the cost stays the explanation's (no forward is added)."""
        r = a.detail
        if not len(r.masks):
            return a
        masks, scores = pieces_by_heat(r.masks, r.heatmap, labels_near(r.supervoxels, self.explainer.slic.n_segments))
        return Attribution(masks=masks, scores=scores, heatmap=r.heatmap, forwards=a.forwards,
                           clips_evaluated=a.clips_evaluated, seconds=a.seconds, ids=r.concept_ids, detail=r)


def pieces_by_heat(concepts: np.ndarray, heat: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concept masks (ranked, K x T x H x W) cut along a label volume: the pieces of each concept in the
    concepts' order, within a concept by their mean heat (descending); voxels an earlier concept holds are not
    repeated. Returns the pieces' masks and their mean heat."""
    masks, scores = [], []
    taken = np.zeros(concepts.shape[1:], bool)
    for concept in concepts:
        own = concept & ~taken
        taken |= own
        ids = np.unique(labels[own])
        pieces = [own & (labels == i) for i in ids]
        means = [float(heat[p].mean()) for p in pieces]
        for j in np.argsort(-np.asarray(means), kind="stable"):
            masks.append(pieces[j])
            scores.append(means[j])
    shape = concepts.shape[1:]
    return (np.stack(masks) if masks else np.zeros((0, *shape), bool)), np.asarray(scores, np.float64)
