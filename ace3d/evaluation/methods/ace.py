"""The product's method, 3D ACE (ace3d.method.explainer), behind the comparison interface."""

from __future__ import annotations

from ace3d.evaluation.methods.base import Attribution, ExplanationMethod, Timer
from ace3d.method.explainer import Explainer
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip


class AceMethod(ExplanationMethod):
    """Concepts of the target class present in the clip, ranked by the target-logit drop when removed. The
    explainer segments with its own recipe: the bank's concepts were learned from those supervoxels."""

    name = "ace"

    def __init__(self, explainer: Explainer) -> None:
        self.explainer = explainer

    @classmethod
    def from_explainer(cls, explainer: Explainer) -> AceMethod:
        return cls(explainer)

    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution:
        timer, engine = Timer(), self.explainer.engine
        f0, c0 = engine.forwards, engine.clips
        acts, logits = self.explainer.classify([clip])
        r = self.explainer.explain_clip(clip, acts[0], logits[0], target)
        return Attribution(masks=r.masks, scores=r.importance, heatmap=r.heatmap, forwards=engine.forwards - f0,
                           clips_evaluated=engine.clips - c0, seconds=timer.seconds, ids=r.concept_ids, detail=r)
