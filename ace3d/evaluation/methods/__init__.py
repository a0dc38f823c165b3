"""Explanation methods behind one interface (base.py), by name. Adding a method: a module with a subclass of
`ExplanationMethod` that has `from_explainer`, and one line here."""

from __future__ import annotations

from ace3d.evaluation.methods.ace import AceMethod
from ace3d.evaluation.methods.base import Attribution, ExplanationMethod
from ace3d.evaluation.methods.captum_ablation import CaptumFeatureAblation
from ace3d.evaluation.methods.captum_voxel import IntegratedGradientsMethod, OcclusionMethod
from ace3d.evaluation.methods.grad_cam import GradCamMethod
from ace3d.evaluation.methods.random_ranking import RandomRanking
from ace3d.evaluation.methods.reference import ReferencePipeline
from ace3d.method.explainer import Explainer

METHODS: dict[str, type] = {m.name: m for m in (AceMethod, ReferencePipeline, CaptumFeatureAblation,
                                                IntegratedGradientsMethod, OcclusionMethod, GradCamMethod,
                                                RandomRanking)}


def build(name: str, explainer: Explainer) -> ExplanationMethod:
    """The method `name` for the explainer's model (and bank, for the concept methods)."""
    if name not in METHODS:
        from ace3d.errors import OptionsError

        raise OptionsError(f"unknown explanation method {name!r}; use one of {', '.join(METHODS)}")
    return METHODS[name].from_explainer(explainer)


__all__ = ["METHODS", "AceMethod", "Attribution", "CaptumFeatureAblation", "ExplanationMethod", "GradCamMethod",
           "IntegratedGradientsMethod", "OcclusionMethod", "RandomRanking", "ReferencePipeline", "build"]
