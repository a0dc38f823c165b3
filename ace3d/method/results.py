"""What the method answers, as plain typed data (arrays and numbers): a `VideoExplanation` of per-clip results.
The wire message is built from it at the serving edge (ace3d.serving.messages); evaluation, reports and
overlays read the arrays directly."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ace3d.method.bank import ConceptBank
from ace3d.method.stages import Stage
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip


@dataclass
class ClipResult:
    """One explained clip: its concepts most important first, their masks, the heatmap and the scores that let
    a caller judge the explanation itself."""

    clip: Clip
    supervoxels: Supervoxels
    concept_ids: list[int]  # bank rows (or, for source "clip", group numbers), most important first
    importance: np.ndarray
    masks: np.ndarray  # bool K x T x H x W, one per concept in `concept_ids`
    heatmap: np.ndarray  # float32 T x H x W in [0, 1]
    concept_map: np.ndarray  # T x H x W, v > 0: concept_ids[v - 1]
    instance: float
    top_removed: float
    baseline: float
    timings: dict[Stage, float] = field(default_factory=dict)  # seconds
    # supervoxels of each instance in `concept_ids` (a concept split into parts (collapse.py) appears once a part)
    supervoxel_counts: list[int] = field(default_factory=list)
    source: str = "bank"  # "clip": the concepts are groups of this clip's supervoxels (groups.py)
    top_removed_logits: np.ndarray | None = None  # every class's logit with the top concept removed
    probabilities: np.ndarray | None = None  # float32 classes: the clip's prediction
    logits: np.ndarray | None = None  # float32 classes
    top_coverage: float = 0.0  # the top concept instance's share of the clip's voxels, after splitting
    collapsed: bool = False  # top_coverage over collapse.SHARE: the explanation localises little (collapse.py)


@dataclass
class ClassifiedClip:
    """A clip answered with its prediction only (classify_only)."""

    clip: Clip
    probabilities: np.ndarray  # float32 classes
    logits: np.ndarray  # float32 classes


@dataclass
class VideoExplanation:
    """A video's explanation: the prediction (mean over clips), the class explained and one result per clip.
    A partial one (`partial`) carries the one clip just finished, before the rest of the video."""

    model_name: str
    class_names: list[str]
    bank: ConceptBank | None  # the concepts' names and TCAV statistics; None: clip groups only
    probabilities: np.ndarray  # float32 classes, mean over the clips
    logits: np.ndarray  # float32 classes, mean over the clips
    target: int
    top_k: int  # classes an answer lists
    clip_count: int
    clips: list[ClipResult | ClassifiedClip] = field(default_factory=list)
    partial: bool = False
    timings: dict[Stage, float] = field(default_factory=dict)  # seconds, by stage (final answers only)
    scored_clips: int = 0  # clips whose mean probabilities are `probabilities` (>= the clips answered)

    @property
    def bank_id(self) -> str:
        return self.bank.bank_id if self.bank is not None else ""

    @property
    def feature_mode(self) -> str:
        return self.bank.feature_mode if self.bank is not None else ""

    @property
    def target_class(self) -> str:
        return self.class_names[self.target]

    @property
    def explained(self) -> list[ClipResult]:
        """The explained clips (none when only classified)."""
        return [c for c in self.clips if isinstance(c, ClipResult)]
