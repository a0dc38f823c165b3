"""The one interface every explanation method implements, after Captum's single `attribute` signature:
`attribute(clip, target, regions=None) -> Attribution`. Evaluation and benchmarks treat every method alike
through it; a new method is one new module with one registration (methods/__init__.py)."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import Clip
from ace3d.models.classifier import Classifier


@dataclass
class Attribution:
    """One method's answer for one clip: regions most important first, their scores, a voxel heatmap, and
    what finding them cost (forwards and clips counted by wrapping the model, not derived)."""

    masks: np.ndarray  # bool K x T x H x W, most important first
    scores: np.ndarray  # float K, in the order of `masks`
    heatmap: np.ndarray  # float32 T x H x W, higher: more important
    forwards: int  # forward calls through the network (a batch counts once)
    clips_evaluated: int  # clips through the network (a batch counts its size)
    seconds: float  # wall time of the whole method
    ids: list[int] = field(default_factory=list)  # bank rows (concept methods) or segment labels
    detail: object = None  # the method's own result (the ACE explainer's ClipResult)


class ExplanationMethod(ABC):
    """An explanation method for one classifier. `regions`: supervoxels a region method should use, so that
    methods compared side by side rank the same regions (each method's own segmentation when None)."""

    name: ClassVar[str]

    @abstractmethod
    def attribute(self, clip: Clip, target: int, *, regions: Supervoxels | None = None) -> Attribution: ...


class CountingClassifier:
    """A Classifier stand-in that counts every trunk call (every forward goes through the trunk) and the
    clips in it, so a method's reported cost is measured."""

    def __init__(self, clf: Classifier) -> None:
        self.clf = clf
        self.forwards = 0
        self.clips = 0

    def __getattr__(self, name: str):
        return getattr(self.clf, name)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        self.forwards += 1
        self.clips += int(x.shape[0])
        return self.clf.trunk(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.clf.head(self.trunk(x))


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
