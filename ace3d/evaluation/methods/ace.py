"""The product's method, 3D ACE (ace3d.method.explainer), behind the comparison interface."""

from __future__ import annotations

import time

import numpy as np
import torch

from ace3d.evaluation.methods.base import Attribution, ExplanationMethod
from ace3d.evaluation.methods.over_segments import labels_near
from ace3d.method.bank import ConceptBank
from ace3d.method.explainer import Explainer
from ace3d.method.groups import MAX_GROUPS
from ace3d.method.slic_params import SlicParams
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip
from ace3d.models.engine import ForwardEngine

# What a ranked region is: a whole concept, or a piece of one (the clip's ~50-segment supervoxels inside it) ranked
# within its concept by the answer's heatmap ("heat", no forward) or, in the first TOP_REMOVAL concepts, by the
# target-logit drop when the piece alone is removed ("removal", one forward per piece; later concepts by heat);
# or "core": the top concept's core (the fewest of its pieces that carry CORE_SHARE of its drop) ranked first,
# then the rest of it, then the other concepts (two forwards per piece of the top concept).
# each ranking's method name, the one table the registry (methods/__init__.py) and the comparisons read
ACE_VARIANTS = {"ace": "concepts", "ace_heat": "heat", "ace_pieces": "removal", "ace_core": "core"}
WITHIN = tuple(ACE_VARIANTS.values())
TOP_REMOVAL = 2
CORE_SHARE = 0.8  # "core": the fewest pieces of the top concept whose removal drops this share of the concept's drop


class AceMethod(ExplanationMethod):
    """Concepts of the target class present in the clip, ranked by the target-logit drop when removed. It
    segments with its own recipe (no `regions`): the bank's concepts were learned from those supervoxels.

    With `within` "heat" or "removal" the ranking is finer: each concept, in the concepts' order, is cut along
    the clip's segments at the comparison methods' resolution (about 50) and its pieces are ranked inside it (see
    WITHIN), so the ranking says which concept first, and where in it."""

    name = "ace"

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None, slic: SlicParams | None = None,
                 removal: str = "input", max_groups: int = MAX_GROUPS, within: str = "concepts") -> None:
        super().__init__(engine, bank=bank, slic=slic)
        if within not in WITHIN:
            raise ValueError(f"unknown within {within!r}: use one of {WITHIN}")
        self.within = within
        self.name = next(name for name, w in ACE_VARIANTS.items() if w == within)
        self.explainer = Explainer(engine.clf, bank, slic=slic, removal=removal, max_groups=max_groups,
                                   engine=engine)

    def _attribute(self, clip: Clip, target: int, regions: Supervoxels | None) -> Attribution:
        acts, logits = self.explainer.classify([clip])
        r = self.explainer.explain_clip(clip, acts[0], logits[0], target)
        a = Attribution(masks=r.masks, scores=r.importance, heatmap=r.heatmap, ids=r.concept_ids, detail=r)
        return a if self.within == "concepts" else self.refine(a, target)

    def refine(self, a: Attribution, target: int) -> Attribution:
        """An attribution of whole concepts (this method's with `within="concepts"`) with its concepts cut into
        pieces ranked as `within` says; its cost is the explanation's plus the pieces' forwards ("removal")."""
        r = a.detail
        if not len(r.masks):
            return a
        f0, c0, t0 = self.engine.forwards, self.engine.clips, time.perf_counter()
        owner, pieces = concept_pieces(r.masks, labels_near(r.supervoxels, self.explainer.slic.n_segments))
        if self.within == "core":
            return self._core(a, r, target, [p for p, k in zip(pieces, owner, strict=True) if k == 0], (f0, c0, t0))
        scores = np.array([float(r.heatmap[p].mean()) for p in pieces])
        if self.within == "removal":
            first = [i for i, k in enumerate(owner) if k < TOP_REMOVAL]
            mt = torch.from_numpy(np.stack([pieces[i] for i in first]))
            logits, _ = self.explainer.input_removed_logits(r.clip, mt)
            scores[first] = r.instance - logits[:, target].float().numpy()
        masks, ranked = in_concept_order(owner, pieces, scores)
        return Attribution(masks=masks, scores=ranked, heatmap=r.heatmap,
                           forwards=a.forwards + self.engine.forwards - f0,
                           clips_evaluated=a.clips_evaluated + self.engine.clips - c0,
                           seconds=a.seconds + time.perf_counter() - t0, ids=r.concept_ids, detail=r)


    def _core(self, a: Attribution, r, target: int, pieces: list[np.ndarray], start: tuple) -> Attribution:
        """The top concept's core first: its pieces by their own removal's drop, the fewest whose removal
        together drops CORE_SHARE of the whole concept's drop; then the rest of that concept, then the others."""
        f0, c0, t0 = start
        if len(pieces) > 1:
            own, _ = self.explainer.input_removed_logits(r.clip, torch.from_numpy(np.stack(pieces)))
            order = np.argsort(-(r.instance - own[:, target].float().numpy()), kind="stable")
            prefixes = np.cumsum(np.stack([pieces[i] for i in order]), axis=0) > 0
            together, _ = self.explainer.input_removed_logits(r.clip, torch.from_numpy(prefixes))
            drops = r.instance - together[:, target].float().numpy()
            k = int(np.argmax(drops >= CORE_SHARE * drops[-1])) if drops[-1] > 0 else len(drops) - 1
            core, drop = prefixes[k], float(drops[k])
        else:
            core, drop = r.masks[0], float(a.scores[0])
        rest = r.masks[0] & ~core
        masks = [core, *([rest] if rest.any() else []), *r.masks[1:]]
        scores = [drop, *([float(a.scores[0]) - drop] if rest.any() else []), *a.scores[1:]]
        ids = [r.concept_ids[0], *([r.concept_ids[0]] if rest.any() else []), *r.concept_ids[1:]]
        return Attribution(masks=np.stack(masks), scores=np.asarray(scores, np.float64), heatmap=r.heatmap,
                           forwards=a.forwards + self.engine.forwards - f0,
                           clips_evaluated=a.clips_evaluated + self.engine.clips - c0,
                           seconds=a.seconds + time.perf_counter() - t0, ids=ids, detail=r)


def concept_pieces(concepts: np.ndarray, labels: np.ndarray) -> tuple[list[int], list[np.ndarray]]:
    """Concept masks (ranked, K x T x H x W) cut along a label volume: each piece's concept (its rank) and mask;
    voxels an earlier concept holds are not repeated."""
    owner, pieces = [], []
    taken = np.zeros(concepts.shape[1:], bool)
    for k, concept in enumerate(concepts):
        own = concept & ~taken
        taken |= own
        for i in np.unique(labels[own]):
            owner.append(k)
            pieces.append(own & (labels == i))
    return owner, pieces


def in_concept_order(owner: list[int], pieces: list[np.ndarray], scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pieces in their concepts' order, within a concept by score (descending): masks and scores."""
    order = sorted(range(len(pieces)), key=lambda i: (owner[i], -scores[i]))
    shape = pieces[0].shape if pieces else (0, 0, 0)
    masks = np.stack([pieces[i] for i in order]) if pieces else np.zeros((0, *shape), bool)
    return masks, np.asarray([scores[i] for i in order], np.float64)
