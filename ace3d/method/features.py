"""Bottleneck features of supervoxels, in the two modes a bank can be built with.

pooled: one forward per clip; each supervoxel's feature is the bottleneck activation averaged inside its
        mask at the bottleneck's resolution. The same forward gives the prediction, so serving pays for
        features once.
ace:    the 3D ACE recipe: each supervoxel alone (the rest of the clip filled with the mean colour),
        cropped to its bounding box, resized to the clip, one forward each (batched here), activation
        averaged over space and time. Faithful to the paper, ~N forwards per clip."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ace3d.method.supervoxels import Supervoxels
from ace3d.models.classifier import Classifier
from ace3d.models.engine import ForwardEngine, model_input

MODES = ("pooled", "ace")
ACE_FILL = 117  # the mean-colour fill of the ACE reference, in grey levels


def clip_tensor(clf: Classifier, frames: np.ndarray) -> torch.Tensor:
    """One uint8 clip as the network's 1 x 3 x T x H x W input."""
    return model_input(clf, frames)


def pool(activation: torch.Tensor, supervoxels: Supervoxels) -> np.ndarray:
    """Average a 1 x C x t x h x w activation inside each supervoxel: N x C."""
    c = activation.shape[1]
    grid = tuple(activation.shape[2:])
    w = supervoxels.weights(grid).to(activation.device).flatten(1)  # N x (t h w)
    a = activation[0].reshape(c, -1).float()  # C x (t h w)
    feats = (w @ a.T) / w.sum(1, keepdim=True).clamp_min(1e-6)
    return feats.cpu().numpy().astype(np.float32)


def isolate(frames: np.ndarray, mask: np.ndarray, clip_shape: tuple[int, int, int]) -> np.ndarray:
    """One supervoxel alone: outside the mask filled with ACE's grey, cropped to the mask's 3D bounding
    box and resized back to the clip shape."""
    t, h, w = clip_shape
    ts, ys, xs = (np.flatnonzero(mask.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1)))
    crop = np.where(mask[..., None], frames, np.uint8(ACE_FILL))[ts[0]:ts[-1] + 1, ys[0]:ys[-1] + 1,
                                                                  xs[0]:xs[-1] + 1]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(3, 0, 1, 2)[None].float()
    x = F.interpolate(x, size=(t, h, w), mode="trilinear", align_corners=False)
    return x[0].permute(1, 2, 3, 0).round().clamp(0, 255).to(torch.uint8).numpy()


def ace(engine: ForwardEngine, frames: np.ndarray, supervoxels: Supervoxels, batch_size: int | None = None) \
        -> np.ndarray:
    """Features of each supervoxel seen alone (N forwards, batched by `batch_size`, default the engine's): N x C."""
    clf, batch_size = engine.clf, batch_size or engine.batch_size
    out = []
    with torch.inference_mode():
        for i in range(0, len(supervoxels), batch_size):
            idx = range(i, min(i + batch_size, len(supervoxels)))
            xb = torch.cat([clip_tensor(clf, isolate(frames, supervoxels.mask(j), clf.clip_shape)) for j in idx])
            out.append(engine.trunk(xb).float().mean(dim=(2, 3, 4)).cpu().numpy())
    c = out[0].shape[1] if out else 0
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, c), np.float32)


def extract(engine: ForwardEngine, frames: np.ndarray, supervoxels: Supervoxels, mode: str) -> np.ndarray:
    """Features N x C of a clip's supervoxels in `mode` (one forward in pooled mode, N in ace mode)."""
    if mode == "pooled":
        with torch.inference_mode():
            return pool(engine.trunk(clip_tensor(engine.clf, frames)), supervoxels)
    if mode == "ace":
        return ace(engine, frames, supervoxels)
    raise ValueError(f"unknown feature mode {mode!r}; use one of {MODES}")
