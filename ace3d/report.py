"""What a person reads and looks at: the explanation table and the overlay animation, both made from the
Explanation message alone, so a local and a served answer render the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ace3d_client.report import table  # noqa: F401 - the table is the client's

from ace3d.files import atomic_write, write_text  # noqa: F401 - write_text is part of this API
from ace3d.v1 import explanation_pb2 as pb
from ace3d.wire import from_volume

PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                    [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]], np.uint8)


def overlay_frames(frames: np.ndarray, clip: pb.ClipExplanation) -> np.ndarray:
    """Frames with the heatmap blended in red and each concept's outline in its colour."""
    from skimage.segmentation import find_boundaries  # drawing only: `table` stays light for thin clients

    cmap = from_volume(clip.concept_map)
    out = blend_heat(frames, from_volume(clip.heatmap))
    for t in range(len(out)):
        edges = find_boundaries(cmap[t], mode="inner") & (cmap[t] > 0)
        out[t][edges] = PALETTE[(cmap[t][edges].astype(int) - 1) % len(PALETTE)]
    return out


def blend_heat(frames: np.ndarray, heat: np.ndarray, strength: float = 0.6) -> np.ndarray:
    """Frames with a [0, 1] heatmap blended in red: one colouring for every method's heatmap."""
    h = np.clip(np.asarray(heat, np.float32), 0, 1)[..., None] * strength
    out = frames.astype(np.float32) * (1 - h) + np.array([255.0, 40.0, 0.0], np.float32) * h
    return out.clip(0, 255).astype(np.uint8)


def write_gif(path: str | Path, frames: np.ndarray, scale: int = 3, fps: int = 6) -> Path:
    """An animated GIF, written atomically (no partial file on failure)."""
    from PIL import Image

    imgs = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST) for f in frames]
    return atomic_write(path, lambda tmp: imgs[0].save(tmp, format="GIF", save_all=True, append_images=imgs[1:],
                                                       duration=int(1000 / fps), loop=0))


def clip_frames(video, clip: pb.ClipExplanation) -> np.ndarray:
    """Rebuild a clip's frames from the source video with the clip's own `frame_indices` and `region`,
    so a client can draw a served explanation over the video it sent."""
    from ace3d.method.video import resize_frames

    t, h, w = from_volume(clip.heatmap).shape
    kh, kw = video.frames.shape[1:3]
    sw, sh = video.source_size
    sx, sy = kw / sw, kh / sh
    r = clip.region
    x0, y0 = round(r.x * sx), round(r.y * sy)
    x1, y1 = max(x0 + 1, round((r.x + r.width) * sx)), max(y0 + 1, round((r.y + r.height) * sy))
    idx = [min(i, video.num_frames - 1) for i in clip.frame_indices]
    return resize_frames(video.frames[idx, y0:y1, x0:x1], (h, w))


def overlay(video, exp: pb.Explanation, path: str | Path) -> Path | None:
    """Write the overlay GIF of every explained clip of `exp`, one after another."""
    parts = [overlay_frames(clip_frames(video, c), c) for c in exp.clips if c.HasField("heatmap")]
    if not parts:
        return None
    return write_gif(path, np.concatenate(parts))
