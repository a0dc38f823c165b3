"""Supervoxels: multi-resolution 3D SLIC over the whole clip volume, with near-duplicates across
resolutions dropped by 3D Jaccard overlap (the 3D ACE recipe: n_segments 15/50/80, compactness 20,
sigma 1, Jaccard > 0.5 is a duplicate).

Supervoxels are kept as one label volume per resolution plus the list of kept (resolution, label) pairs:
masks are built on demand, so a clip's ~100 supervoxels never sit in memory as ~100 dense volumes."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import slic


@dataclass(frozen=True)
class SlicParams:
    n_segments: tuple[int, ...] = (15, 50, 80)
    compactness: float = 20.0
    sigma: float = 1.0
    jaccard: float = 0.5  # a supervoxel overlapping a kept one more than this is a duplicate
    downscale: int = 1  # segment a clip shrunk by this factor in H and W, then upsample the labels
    min_voxels: int = 8  # supervoxels smaller than this (after upsampling) are dropped

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> SlicParams:
        d = dict(d)
        d["n_segments"] = tuple(d["n_segments"])
        return cls(**d)


@dataclass
class Supervoxels:
    """Kept supervoxels of one clip: `labels[r]` is the T x H x W label volume of resolution r and
    `items[i] = (r, label)` names supervoxel i."""

    labels: list[np.ndarray]
    items: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.items)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.labels[0].shape)

    def mask(self, i: int) -> np.ndarray:
        r, lab = self.items[i]
        return self.labels[r] == lab

    def masks(self) -> np.ndarray:
        """All masks as one bool N x T x H x W array (use sparingly: N dense volumes)."""
        return np.stack([self.mask(i) for i in range(len(self))]) if self.items else \
            np.zeros((0, *self.shape), bool)

    def weights(self, size: tuple[int, int, int] | None = None) -> torch.Tensor:
        """Float N x t x h x w: each supervoxel's share of every cell of a grid of `size` (area pooling),
        the weights that average bottleneck features inside a supervoxel."""
        m = torch.from_numpy(self.masks()).float()
        if size is None or tuple(size) == self.shape or len(self) == 0:
            return m
        return F.adaptive_avg_pool3d(m, tuple(size))


def segment(frames: np.ndarray, params: SlicParams = SlicParams()) -> Supervoxels:
    """3D SLIC at every resolution of `params`, then Jaccard de-duplication (coarse resolutions first)."""
    t, h, w, _ = frames.shape
    small = frames
    if params.downscale > 1:
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(max(1, h // params.downscale), max(1, w // params.downscale)),
                          mode="area")
        small = x.permute(0, 2, 3, 1).numpy()
    image = small.astype(np.float32) / 255.0
    labels: list[np.ndarray] = []
    for n in params.n_segments:
        lab = slic(image, n_segments=n, compactness=params.compactness, sigma=params.sigma,
                   channel_axis=-1, start_label=0, enforce_connectivity=True)
        if params.downscale > 1:
            lt = torch.from_numpy(lab.astype(np.int64))[:, None].float()
            lab = F.interpolate(lt, size=(h, w), mode="nearest")[:, 0].long().numpy()
        labels.append(lab.astype(np.int32))
    return Supervoxels(labels=labels, items=deduplicate(labels, params.jaccard, params.min_voxels))


def deduplicate(labels: list[np.ndarray], threshold: float, min_voxels: int = 1) -> list[tuple[int, int]]:
    """Keep supervoxels in order (resolution, label), dropping any whose Jaccard overlap with an already
    kept one exceeds `threshold`. Overlaps come from label co-occurrence counts, not mask pairs."""
    kept: list[tuple[int, int]] = []
    sizes = [np.bincount(lab.ravel()) for lab in labels]
    for r, lab in enumerate(labels):
        for label in np.flatnonzero(sizes[r] >= min_voxels):
            dup = False
            mask = lab == label
            for kr in {k for k, _ in kept}:
                if kr == r:
                    continue  # labels of one resolution never overlap
                inter = np.bincount(labels[kr][mask], minlength=len(sizes[kr]))
                for kr2, klab in kept:
                    if kr2 != kr:
                        continue
                    i = inter[klab]
                    if i and i / (sizes[r][label] + sizes[kr][klab] - i) > threshold:
                        dup = True
                        break
                if dup:
                    break
            if not dup:
                kept.append((r, int(label)))
    return kept
