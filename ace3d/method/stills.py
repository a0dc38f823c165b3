"""Pictures of a supervoxel: the bank's stills of each concept and the report's example animations are cut out
of a clip by the same function (grey outside the mask, cropped to its box, resized)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

THUMB = 32  # the side of a bank still, in pixels


def cutout(frames: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Frames (t x H x W x 3) with everything outside `mask` (t x H x W) greyed, cropped to the mask's box over
    all t frames and resized to size x size: uint8 t x size x size x 3."""
    ys, xs = np.flatnonzero(mask.any(axis=(0, 2))), np.flatnonzero(mask.any(axis=(0, 1)))
    img = np.where(mask[..., None], frames, (frames * 0.3 + 90).astype(np.uint8))[:, ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1]
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(0, 3, 1, 2).float()
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) \
        .permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()


def thumbnail(frames: np.ndarray, mask: np.ndarray, size: int = THUMB) -> np.ndarray:
    """A supervoxel on its middle frame: cropped to its box, the rest greyed, resized to size x size."""
    ts = np.flatnonzero(mask.any(axis=(1, 2)))
    t = int(ts[len(ts) // 2])
    return cutout(frames[t:t + 1], mask[t:t + 1], size)[0]
