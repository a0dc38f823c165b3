"""A random ranking of the same supervoxels: the floor every method must clear. Its heatmap follows its ranking,
so its pointing game and IoU are what chance gives."""

from __future__ import annotations

import numpy as np
import torch

from ace3d.evaluation.methods.over_segments import OverSegments
from ace3d.method.bank import ConceptBank
from ace3d.method.supervoxels import SlicParams
from ace3d.models.engine import ForwardEngine


class RandomRanking(OverSegments):
    name = "random"

    def __init__(self, engine: ForwardEngine, *, bank: ConceptBank | None = None, slic: SlicParams | None = None,
                 seed: int = 0) -> None:
        super().__init__(engine, bank=bank, slic=slic)
        self.rng = np.random.default_rng(seed)

    def voxel_attribution(self, x, baseline, target, labels):
        ids, inverse = np.unique(labels, return_inverse=True)
        score = self.rng.permutation(len(ids)).astype(np.float32) + 1.0  # one random score per segment
        return torch.from_numpy(score[inverse].reshape(labels.shape))
