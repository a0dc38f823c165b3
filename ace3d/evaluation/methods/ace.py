"""The product's method, 3D ACE (ace3d.method.explainer), behind the comparison interface."""

from __future__ import annotations

from ace3d.evaluation.methods.base import Attribution, ExplanationMethod
from ace3d.method.bank import ConceptBank
from ace3d.method.explainer import Explainer
from ace3d.method.groups import MAX_GROUPS
from ace3d.method.slic_params import SlicParams
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip
from ace3d.models.engine import ForwardEngine


class AceMethod(ExplanationMethod):
    """Concepts of the target class present in the clip, ranked by the target-logit drop when removed. It
    segments with its own recipe (no `regions`): the bank's concepts were learned from those supervoxels."""

    name = "ace"

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None, slic: SlicParams | None = None,
                 removal: str = "input", max_groups: int = MAX_GROUPS) -> None:
        super().__init__(engine, bank=bank, slic=slic)
        self.explainer = Explainer(engine.clf, bank, slic=slic, removal=removal, max_groups=max_groups,
                                   engine=engine)

    def _attribute(self, clip: Clip, target: int, regions: Supervoxels | None) -> Attribution:
        acts, logits = self.explainer.classify([clip])
        r = self.explainer.explain_clip(clip, acts[0], logits[0], target)
        return Attribution(masks=r.masks, scores=r.importance, heatmap=r.heatmap, ids=r.concept_ids, detail=r)
