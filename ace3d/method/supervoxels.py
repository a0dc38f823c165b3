"""Supervoxels: multi-resolution 3D SLIC over the whole clip volume, with near-duplicates across
resolutions dropped by 3D Jaccard overlap (the 3D ACE recipe: n_segments 15/50/80, compactness 20,
sigma 1, Jaccard > 0.5 is a duplicate).

Two SLIC implementations: scikit-image's (the reference) and `torch_slic`, the same algorithm vectorised in
torch (each voxel compares itself with the 27 centres of its own and the neighbouring grid cells, centres are
means of their voxels) that runs on the clip's device, several times faster (docs/PERFORMANCE.md).
`torch_slic` does not enforce connectivity, so a label can have a few disconnected pieces; `ace3d bench`
measures how closely it agrees with scikit-image.

Supervoxels are kept as one label volume per resolution plus the list of kept (resolution, label) pairs:
masks are built on demand, so a clip's ~100 supervoxels never sit in memory as ~100 dense volumes."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage.segmentation import slic

from ace3d.method.slic_params import PAPER, SlicParams  # noqa: F401 - PAPER is part of this API


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
        the weights that average bottleneck features inside a supervoxel. When the grid divides the clip
        (the usual case: strided networks) this is a label histogram per cell, never N dense masks."""
        size = self.shape if size is None else tuple(size)
        if len(self) == 0 or any(d % g for d, g in zip(self.shape, size, strict=True)):
            m = torch.from_numpy(self.masks()).float()
            return m if size == self.shape or len(self) == 0 else F.adaptive_avg_pool3d(m, size)
        cells = int(np.prod(size))
        cell = _cell_index(self.shape, size)
        out = torch.zeros(len(self), cells)
        for r, lab in enumerate(self.labels):
            rows = [(i, label) for i, (rr, label) in enumerate(self.items) if rr == r]
            if not rows:
                continue
            n_lab = int(lab.max()) + 1
            hist = torch.bincount(torch.from_numpy(lab.ravel()).long() * cells + cell, minlength=n_lab * cells)
            hist = hist.view(n_lab, cells).float()
            idx = torch.tensor([i for i, _ in rows])
            out[idx] = hist[torch.tensor([label for _, label in rows])]
        return (out / (np.prod(self.shape) / cells)).view(len(self), *size)

    def concept_masks(self, groups: list[np.ndarray]) -> np.ndarray:
        """bool K x T x H x W: the union of the supervoxels of each group (indices into this clip's list),
        by one lookup per resolution instead of one mask per supervoxel (`np.take`, faster than fancy indexing:
        docs/PERFORMANCE.md)."""
        out = np.zeros((len(groups), *self.shape), bool)
        for r, lab in enumerate(self.labels):
            lut = np.zeros((len(groups), int(lab.max()) + 1), bool)
            for k, members in enumerate(groups):
                for i in members:
                    rr, label = self.items[int(i)]
                    if rr == r:
                        lut[k, label] = True
            if lut.any():
                out |= np.take(lut, lab, axis=1)
        return out


def _cell_index(shape: tuple[int, int, int], size: tuple[int, ...]) -> torch.Tensor:
    """Flat index of the grid cell (of a `size` grid that divides `shape`) that holds each voxel."""
    t, h, w = (torch.arange(d) // (d // g) for d, g in zip(shape, size, strict=True))
    return ((t[:, None, None] * size[1] + h[None, :, None]) * size[2] + w[None, None, :]).ravel()


_XYZ_FROM_RGB = torch.tensor([[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169],
                              [0.019334, 0.119193, 0.950227]])
_D65 = torch.tensor([0.95047, 1.0, 1.08883])


def rgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] (... x 3) to CIE Lab under D65: SLIC clusters in Lab, where distances follow perception."""
    lin = torch.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = lin @ _XYZ_FROM_RGB.to(x).T / _D65.to(x)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _smooth(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian over T, H, W of a T x H x W x C volume (edges replicated), as weighted sums of
    shifted copies: for a few taps that is cheaper than a grouped 3D convolution."""
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float64) / sigma) ** 2)
    k = (k / k.sum()).tolist()
    for dim in range(3):
        n = x.shape[dim]
        first, last = x.narrow(dim, 0, 1), x.narrow(dim, n - 1, 1)
        padded = torch.cat([first.repeat_interleave(r, dim), x,
                            last.repeat_interleave(r, dim)], dim)
        out = padded.narrow(dim, 0, n) * k[0]
        for i in range(1, len(k)):
            out = out + padded.narrow(dim, i, n) * k[i]
        x = out
    return x


def prepare(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """T x H x W x 3 clip in [0, 1] -> smoothed Lab, computed once and shared by every SLIC resolution."""
    lab = rgb_to_lab(image.float())
    return _smooth(lab, sigma) if sigma > 0 else lab


@dataclass(frozen=True)
class _Grid:
    """The geometry of one SLIC run (blocks, candidate centres, voxel positions), which depends only on the
    clip's shape and the number of segments: built once per shape and reused by every clip."""

    size: tuple[int, int, int]  # block edge per axis
    grid: tuple[int, int, int]  # blocks per axis
    padded: tuple[int, int, int]
    pos: torch.Tensor  # B x V x 3 voxel positions / step
    keep: torch.Tensor  # flat indices of the voxels inside the clip (not padding)
    kept_pos: torch.Tensor  # 3 x N: the positions of those voxels, rows for the centre sums
    cand: torch.Tensor  # B x 27 candidate centres per block (B: the sentinel)
    mid: int  # each block's middle voxel


def _to_blocks(x: torch.Tensor, g: tuple[int, ...], c: tuple[int, ...]) -> torch.Tensor:
    """Tp x Hp x Wp x ... -> B x V x ...: the voxels of each block together."""
    x = x.reshape(g[0], c[0], g[1], c[1], g[2], c[2], *x.shape[3:])
    x = x.permute(0, 2, 4, 1, 3, 5, *range(6, x.dim()))
    return x.reshape(g[0] * g[1] * g[2], c[0] * c[1] * c[2], *x.shape[6:])


@functools.lru_cache(maxsize=64)
def _slic_grid(dims: tuple[int, int, int], n_segments: int, device: str) -> _Grid:
    dev = torch.device(device)
    step = (dims[0] * dims[1] * dims[2] / max(1, n_segments)) ** (1 / 3)
    size = tuple(max(1, -(-d // max(1, min(d, round(d / step))))) for d in dims)
    grid = tuple(-(-d // c) for d, c in zip(dims, size, strict=True))  # blocks per axis (none empty)
    padded = tuple(gr * c for gr, c in zip(grid, size, strict=True))
    pos = torch.stack(torch.meshgrid(*(torch.arange(d, device=dev, dtype=torch.float32) for d in padded),
                                     indexing="ij"), -1)
    real = torch.zeros(padded, dtype=torch.bool, device=dev)
    real[:dims[0], :dims[1], :dims[2]] = True
    mid = ((size[0] // 2) * size[1] + size[1] // 2) * size[2] + size[2] // 2
    gi = torch.stack(torch.meshgrid(*(torch.arange(n, device=dev) for n in grid), indexing="ij"), -1).view(-1, 3)
    off = torch.stack(torch.meshgrid(*([torch.tensor([-1, 0, 1], device=dev)] * 3), indexing="ij"), -1).view(-1, 3)
    nb = gi[:, None] + off[None]  # K x 27 x 3
    gsize = torch.tensor(grid, device=dev)
    valid = ((nb >= 0) & (nb < gsize)).all(-1)
    nb = nb.clamp_min(0).minimum(gsize - 1)
    cand = (nb[..., 0] * grid[1] + nb[..., 1]) * grid[2] + nb[..., 2]  # K x 27
    # a candidate outside the grid points at a sentinel centre (index K) too far away to win
    cand = torch.where(valid, cand, torch.full_like(cand, len(gi)))
    keep = _to_blocks(real, grid, size).reshape(-1).nonzero()[:, 0]
    pos = _to_blocks(pos / step, grid, size).contiguous()
    return _Grid(size, grid, padded, pos, keep, pos.reshape(-1, 3)[keep].T.contiguous(), cand, mid)


def torch_slic(image: torch.Tensor, n_segments: int, compactness: float = 20.0, sigma: float = 1.0,
               iterations: int = 10, lab: torch.Tensor | None = None) -> torch.Tensor:
    """3D SLIC of a T x H x W x 3 float clip in [0, 1] -> int64 T x H x W labels 0..n-1.

    Centres start at the middles of a regular grid of about `n_segments` blocks; a voxel may join only the
    centres that started in its own block or a neighbouring one (SLIC's 2S search window), at distance
    (colour / compactness)^2 + (space / step)^2, as scikit-image measures it. All voxels of a block share
    their 27 candidates, so each iteration is one batched matrix product per block, not a gather per voxel."""
    t, h, w, _ = image.shape
    lab = prepare(image, sigma) if lab is None else lab
    g = _slic_grid((t, h, w), n_segments, str(image.device))
    col = F.pad(lab.permute(3, 0, 1, 2)[None], [0, g.padded[2] - w, 0, g.padded[1] - h, 0, g.padded[0] - t],
                mode="replicate")[0].permute(1, 2, 3, 0)
    colour = _to_blocks(col / compactness, g.grid, g.size)
    fb = torch.cat([colour, g.pos], -1)  # B x V x 6
    k = fb.shape[0]
    centres = fb[:, g.mid].clone()  # K x 6: each block's middle voxel
    cand = g.cand
    far = torch.full((1, 6), 1e6, device=fb.device, dtype=fb.dtype)
    # 6 x N rows of the voxels inside the clip (index_add_ along a row is ~6x faster here); positions cached
    flat_t = torch.cat([colour.reshape(-1, 3).index_select(0, g.keep).T, g.kept_pos])
    for _ in range(iterations):
        # |f|^2 is the same for every candidate of a voxel, so the argmin needs only |c|^2 - 2 f.c
        c = torch.cat([centres, far])[cand]  # B x 27 x 6
        d = torch.baddbmm((c * c).sum(-1)[:, None, :], fb, c.transpose(1, 2), alpha=-2)
        assign = cand.gather(1, d.argmin(-1))  # B x V centre ids
        a = assign.reshape(-1).index_select(0, g.keep)
        count = torch.bincount(a, minlength=k)
        sums = torch.zeros(6, k, dtype=fb.dtype, device=fb.device).index_add_(1, a, flat_t).T
        seen = count > 0
        centres[seen] = sums[seen] / count[seen, None]
    grid, size = g.grid, g.size
    labels = assign.view(grid[0], grid[1], grid[2], size[0], size[1], size[2]).permute(0, 3, 1, 4, 2, 5)
    labels = labels.reshape(g.padded)[:t, :h, :w]
    # consecutive labels, as torch.unique's inverse gives them, from the final counts (no sort)
    used = torch.bincount(labels.reshape(-1), minlength=k) > 0
    return (used.cumsum(0) - 1)[labels]


def segment(frames: np.ndarray, params: SlicParams = SlicParams(), device: str | torch.device = "cpu") -> Supervoxels:
    """3D SLIC at every resolution of `params`, then Jaccard de-duplication (coarse resolutions first). The
    torch method runs on `device` (the model's), so on a GPU segmentation does not wait for the CPU."""
    t, h, w, _ = frames.shape
    small = frames
    if params.downscale > 1:
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        x = F.interpolate(x, size=(max(1, h // params.downscale), max(1, w // params.downscale)),
                          mode="area")
        small = x.permute(0, 2, 3, 1).numpy()
    image = small.astype(np.float32) / 255.0
    labels: list[np.ndarray] = []
    tensor = torch.from_numpy(np.ascontiguousarray(image)).to(device) if params.method == "torch" else None
    lab_image = prepare(tensor, params.sigma) if tensor is not None else None
    for n in params.n_segments:
        if tensor is not None:
            lab = torch_slic(tensor, n, params.compactness, params.sigma, params.iterations, lab=lab_image)
            lab = lab.cpu().numpy()
        elif params.method == "skimage":
            lab = slic(image, n_segments=n, compactness=params.compactness, sigma=params.sigma, channel_axis=-1,
                       start_label=0, enforce_connectivity=True, max_num_iter=params.iterations)
        else:
            raise ValueError(f"unknown SLIC method {params.method!r}: use 'skimage' or 'torch'")
        if params.downscale > 1:
            lt = torch.from_numpy(lab.astype(np.int64))[:, None].float()
            lab = F.interpolate(lt, size=(h, w), mode="nearest")[:, 0].long().numpy()
        labels.append(lab.astype(np.int32))
    return Supervoxels(labels=labels, items=deduplicate(labels, params.jaccard, params.min_voxels))


def deduplicate(labels: list[np.ndarray], threshold: float, min_voxels: int = 1) -> list[tuple[int, int]]:
    """Keep supervoxels in order (resolution, label), dropping any whose Jaccard overlap with an already
    kept one exceeds `threshold`. Overlaps come from one co-occurrence table per pair of resolutions."""
    kept: list[tuple[int, int]] = []
    by_res: dict[int, list[int]] = {}
    sizes = [np.bincount(lab.ravel()) for lab in labels]
    for r, lab in enumerate(labels):
        n = len(sizes[r])
        inter = {kr: np.bincount(lab.ravel().astype(np.int64) * len(sizes[kr]) + labels[kr].ravel(),
                                 minlength=n * len(sizes[kr])).reshape(n, len(sizes[kr])) for kr in by_res}
        mine: list[int] = []
        for label in np.flatnonzero(sizes[r] >= min_voxels):
            dup = False
            for kr, table in inter.items():
                klabs = np.asarray(by_res[kr])
                i = table[label, klabs]
                if (i / (sizes[r][label] + sizes[kr][klabs] - i) > threshold).any():
                    dup = True
                    break
            if not dup:
                kept.append((r, int(label)))
                mine.append(int(label))
        if mine:
            by_res[r] = mine
    return kept


def _boundaries(labels: np.ndarray) -> np.ndarray:
    """bool T x H x W: voxels whose right or lower neighbour in the same frame has another label."""
    b = np.zeros(labels.shape, bool)
    b[:, :, :-1] |= labels[:, :, :-1] != labels[:, :, 1:]
    b[:, :-1, :] |= labels[:, :-1, :] != labels[:, 1:, :]
    return b


def boundary_recall(reference: np.ndarray, candidate: np.ndarray, tolerance: int = 1) -> float:
    """Share of the reference segmentation's boundary voxels that have a candidate boundary within
    `tolerance` pixels in the same frame (1.0: every reference edge is found)."""
    from scipy.ndimage import binary_dilation

    ref, cand = _boundaries(reference), _boundaries(candidate)
    if not ref.any():
        return 1.0
    near = binary_dilation(cand, structure=np.ones((1, 2 * tolerance + 1, 2 * tolerance + 1), bool))
    return float((ref & near).sum() / ref.sum())


def undersegmentation_error(labels: np.ndarray, mask: np.ndarray) -> float:
    """Corrected undersegmentation error against a two-region truth (an object mask and the rest): each
    supervoxel that straddles the object's edge costs its smaller part; divided by the clip's voxels."""
    n = int(labels.max()) + 1
    inside = np.bincount(labels[mask].ravel(), minlength=n)
    total = np.bincount(labels.ravel(), minlength=n)
    return float(np.minimum(inside, total - inside).sum() / labels.size)
