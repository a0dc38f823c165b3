"""Taking regions out of a clip: the removal operator every importance, deletion and insertion score uses.

A removed voxel takes the mean of the same pixel over the frames where it is not removed (what was behind a
moving thing), so a moving thing disappears instead of leaving a silhouette that still moves; each region
is removed with a rim of `RIM` pixels (why: `remove`). `remove_features` is the same operator on a
bottleneck activation. `blur_removed` is a second operator for evaluation only (ROAD-style): a removed voxel
takes a heavily blurred clip's value, so a score that holds under both cannot come from the fill alone."""

from __future__ import annotations

import numpy as np
import torch

RIM = 1  # pixels around a removed region that are removed with it (see `remove`)


def remove_features(activation: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The removal operator at the bottleneck: C x t x h x w activation and K x t x h x w shares in [0, 1]
    (how much of each cell a concept covers) -> K x C x t x h x w. A covered cell is blended towards the mean
    of the same cell over the times where it is not covered, as `remove` does with pixels; only the layers
    after the bottleneck then run again, so K removals cost K passes of the head, not of the network."""
    a = activation.float()
    w = weights.to(a)
    keep = 1 - w
    num = torch.einsum("kthw,cthw->kchw", keep, a)
    den = keep.sum(1)  # K h w
    mean = torch.einsum("kthw,cthw->kc", keep, a) / keep.sum((1, 2, 3)).clamp_min(1e-6)[:, None]
    fill = torch.where(den[:, None] > 1e-6, num / den.clamp_min(1e-6)[:, None], mean[..., None, None])
    return a[None] * keep[:, None] + fill[:, :, None] * w[:, None]


def remove(frames: np.ndarray, masks: torch.Tensor, rim: int = RIM) -> torch.Tensor:
    """Clips with each mask's voxels taken out: uint8 T x H x W x 3 and bool K x T x H x W -> float
    K x T x H x W x 3. A removed voxel gets the mean of the same pixel over the frames where it is not
    removed (what was behind a moving thing); a pixel removed in every frame gets the clip's mean colour
    of the voxels that remain. Each mask first grows by `rim` pixels within its frames: resizing and video
    compression smear a moving edge into the pixels next to it, and measured on the default model that
    one-pixel ring alone kept the prediction of 2 in 3 clips whose actor was removed by its exact mask."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(masks.device).float()
    return fill_removed(x, masks, rim)


def fill_removed(x: torch.Tensor, masks: torch.Tensor, rim: int = RIM) -> torch.Tensor:
    """`remove` on a float T x H x W x C clip in any per-channel affine scale (the fill is a mean, so removing
    in normalised units equals normalising the removed clip, and the explainer skips a pass over K clips)."""
    if rim > 0 and masks.numel():
        masks = _grow(masks, rim)
    keep = (~masks).to(x.dtype)  # K T H W
    num = (keep[..., None] * x[None]).sum(1)  # K H W C (elementwise: a batched matmul per pixel is slower)
    den = keep.sum(1)  # K H W
    colour = num.sum((1, 2)) / den.sum((1, 2)).clamp_min(1)[:, None]  # K C: the kept voxels' mean, from the sums
    fill = torch.where(den[..., None] > 0, num / den.clamp_min(1)[..., None], colour[:, None, None, :])
    return torch.where(masks[..., None], fill[:, None], x[None])


def _grow(masks: torch.Tensor, r: int) -> torch.Tensor:
    """bool ... x H x W masks grown by r pixels in H and W (a square neighbourhood), by shifted ORs."""
    out = masks.clone()
    for _ in range(r):
        step = out.clone()
        step[..., 1:, :] |= out[..., :-1, :]
        step[..., :-1, :] |= out[..., 1:, :]
        out = step.clone()
        out[..., :, 1:] |= step[..., :, :-1]
        out[..., :, :-1] |= step[..., :, 1:]
    return out


def blur_removed(frames: np.ndarray, masks: torch.Tensor, sigma: float = 0.125) -> torch.Tensor:
    """Clips with each mask's voxels replaced by a Gaussian blur of the clip (sigma: `sigma` of the frame's
    height and width in space, 2 frames in time): uint8 T x H x W x 3 and bool K x T x H x W -> float
    K x T x H x W x 3. Unlike `remove`, the fill follows the surroundings, so the removed region's outline
    leaves no edge of its own and a moving thing leaves a faint blurred trail."""
    from scipy.ndimage import gaussian_filter

    t, h, w = frames.shape[:3]
    blurred = gaussian_filter(np.asarray(frames, np.float32), sigma=(2.0, sigma * h, sigma * w, 0), mode="nearest")
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(masks.device).float()
    fill = torch.from_numpy(blurred).to(masks.device)
    return torch.where(masks[..., None], fill[None], x[None])
