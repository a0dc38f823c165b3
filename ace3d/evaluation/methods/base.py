"""The one interface every explanation method implements, after Captum's single `attribute` signature:
`attribute(clip, target, regions=None) -> Attribution`. Evaluation and benchmarks treat every method alike
through it; a new method is one new module with one registration (methods/__init__.py)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ace3d.method.bank import ConceptBank
from ace3d.method.slic_params import SlicParams
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip
from ace3d.models.classifier import Classifier
from ace3d.models.engine import ForwardEngine


@dataclass
class Attribution:
    """One method's answer for one clip: regions most important first, their scores, a voxel heatmap, and
    what finding them cost (forwards and clips counted by the forward engine, not derived)."""

    masks: np.ndarray  # bool K x T x H x W, most important first
    scores: np.ndarray  # float K, in the order of `masks`
    heatmap: np.ndarray  # float32 T x H x W, higher: more important
    forwards: int = 0  # forward calls through the network (a batch counts once)
    clips_evaluated: int = 0  # clips through the network (a batch counts its size)
    seconds: float = 0.0  # wall time of the whole method
    ids: list[int] = field(default_factory=list)  # bank rows (concept methods) or segment labels
    detail: object = None  # the method's own result (the ACE explainer's ClipResult)


class ExplanationMethod(ABC):
    """An explanation method built from plain parts, the way Captum's are: the forward engine every forward goes
    through (so that `Attribution.forwards` is counted, not derived) and, for the methods that need them, the
    concept bank and the supervoxel settings. `regions`: supervoxels a region method ranks, so that methods
    compared side by side rank the same regions; a method whose `takes_regions` is False refuses them (its
    regions are its own: the concepts were matched on them)."""

    name: ClassVar[str]
    takes_regions: ClassVar[bool] = False

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None,
                 slic: SlicParams | None = None) -> None:
        self.engine, self.bank, self.slic = engine, bank, slic

    @property
    def clf(self) -> Classifier:
        return self.engine.clf

    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution:
        """Regions of `clip` ranked by their importance for class `target`, and what finding them cost."""
        if regions is not None and not self.takes_regions:
            raise ValueError(f"method {self.name!r} segments the clip itself and takes no regions")
        f0, c0, timer = self.engine.forwards, self.engine.clips, Timer()
        a = self._attribute(clip, target, regions)
        a.forwards, a.clips_evaluated = self.engine.forwards - f0, self.engine.clips - c0
        a.seconds = timer.seconds
        return a

    @abstractmethod
    def _attribute(self, clip: Clip, target: int, regions: Supervoxels | None) -> Attribution:
        """The method itself; every forward through `self.engine` (forwards, clips and seconds are filled in
        by `attribute`)."""


def region_heatmap(masks: np.ndarray, scores: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A heatmap for methods that score regions: each voxel takes the (positive) score of the most important
    region that covers it, scaled to [0, 1]."""
    heat = np.zeros(shape, np.float32)
    for k in range(len(masks) - 1, -1, -1):
        heat[masks[k]] = max(float(scores[k]), 0.0)
    return heat / heat.max() if heat.max() > 0 else heat


def rank_by_regions(voxel: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Regions of a label volume ranked by the mean of a voxel attribution (T x H x W) inside each: bool
    masks K x T x H x W, scores K (descending) and the labels, so that voxel-level methods rank the same
    supervoxels as region methods."""
    labels = np.asarray(labels)
    ids, inverse, counts = np.unique(labels.ravel(), return_inverse=True, return_counts=True)
    scores = np.bincount(inverse, weights=np.asarray(voxel, np.float64).ravel(), minlength=len(ids)) / counts
    order = np.argsort(-scores, kind="stable")
    return labels[None] == ids[order][:, None, None, None], scores[order], [int(i) for i in ids[order]]


def positive_heatmap(voxel: np.ndarray) -> np.ndarray:
    """A voxel attribution's positive part scaled to [0, 1] (float32)."""
    heat = np.clip(np.asarray(voxel, np.float32), 0, None)
    return heat / heat.max() if heat.max() > 0 else heat


class Timer:
    """Wall time since construction (a method's `seconds`)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0
