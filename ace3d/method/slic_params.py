"""How supervoxels are made (SLIC's parameters): a bank records them and explanations reuse them. Kept apart
from supervoxels.py so that the command line can show the defaults without importing torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SlicParams:
    """Defaults: the serving recipe (see README: chosen by measured faithfulness). `PAPER` is 3D ACE's."""

    n_segments: tuple[int, ...] = (15, 50)
    compactness: float = 20.0
    sigma: float = 1.0
    jaccard: float = 0.5  # a supervoxel overlapping a kept one more than this is a duplicate
    downscale: int = 2  # segment a clip shrunk by this factor in H and W, then upsample the labels
    min_voxels: int = 8  # supervoxels smaller than this (after upsampling) are dropped
    method: str = "torch"  # or "skimage" (the reference implementation)
    iterations: int = 3

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> SlicParams:
        d = {"method": "skimage", "iterations": 10, **d}  # banks written before these fields: scikit-image
        d["n_segments"] = tuple(d["n_segments"])
        return cls(**d)


PAPER = SlicParams(n_segments=(15, 50, 80), downscale=1, method="skimage", iterations=10)
