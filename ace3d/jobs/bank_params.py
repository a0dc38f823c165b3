"""The recipe of a bank build, read by the plan, both schedulers' stages, the shard names and the bank's record."""

from __future__ import annotations

from dataclasses import dataclass

from ace3d.method.concepts import ConceptParams
from ace3d.method.supervoxels import SlicParams


@dataclass(frozen=True)
class BankParams:
    feature_mode: str = "pooled"
    slic: SlicParams = SlicParams()
    concepts: ConceptParams = ConceptParams()
    n_random_sets: int = 20
    random_set_size: int = 40
    alpha: float = 0.01
    thumbnails: int = 3
    max_videos_per_class: int = 0  # 0: all
    seed: int = 0
    min_videos: int = 2  # a class with fewer usable videos is left out (a concept recurs across videos)
