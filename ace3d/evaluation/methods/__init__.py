"""Explanation methods behind one interface (base.py), by name. Adding a method: a module with a subclass of
`ExplanationMethod` (built from the engine, bank and supervoxel settings), and one line here."""

from __future__ import annotations

from ace3d.evaluation.methods.ace import ACE_VARIANTS, AceMethod
from ace3d.evaluation.methods.base import Attribution, ExplanationMethod
from ace3d.evaluation.methods.captum_ablation import CaptumFeatureAblation
from ace3d.evaluation.methods.captum_voxel import IntegratedGradientsMethod, OcclusionMethod
from ace3d.evaluation.methods.grad_cam import GradCamMethod
from ace3d.evaluation.methods.random_ranking import RandomRanking
from ace3d.evaluation.methods.reference import ReferencePipeline
from ace3d.method.bank import ConceptBank
from ace3d.method.slic_params import SlicParams
from ace3d.models.engine import ForwardEngine

METHODS: dict[str, type[ExplanationMethod]] = {m.name: m for m in (AceMethod, ReferencePipeline, CaptumFeatureAblation,
                                                IntegratedGradientsMethod, OcclusionMethod, GradCamMethod,
                                                RandomRanking)}
# 3D ACE also by its finer rankings (methods/ace.py's ACE_VARIANTS: pieces by heat or by their own removal, the
# top concept's core first)
NAMES = (*METHODS, *(n for n in ACE_VARIANTS if n not in METHODS))


def build(name: str, engine: ForwardEngine, *, bank: ConceptBank | None = None, slic: SlicParams | None = None,
          removal: str = "input") -> ExplanationMethod:
    """The method `name` from plain parts: the engine (every forward counted in one place), the bank (concept
    methods) and the supervoxel settings (default: the bank's, as the explainer's; 3D ACE also takes the
    explainer's `removal`)."""
    if name not in NAMES:
        from ace3d.errors import OptionsError

        raise OptionsError(f"unknown explanation method {name!r}; use one of {', '.join(NAMES)}")
    slic = slic or (bank.slic if bank is not None else SlicParams())
    if name in ACE_VARIANTS:
        return AceMethod(engine, bank=bank, slic=slic, removal=removal, within=ACE_VARIANTS[name])
    return METHODS[name](engine, bank=bank, slic=slic)


__all__ = ["ACE_VARIANTS", "METHODS", "NAMES", "AceMethod", "Attribution", "CaptumFeatureAblation",
           "ExplanationMethod", "GradCamMethod", "IntegratedGradientsMethod", "OcclusionMethod", "RandomRanking",
           "ReferencePipeline", "build"]
