"""The layout of a video data set on disk, read by training, bank building, evaluation and the report, and
written by `ace3d synth`:

    DIR/<class>/<name>.mp4        a video of a class (.webm, .avi, .mkv and .npy frames are read too)
    DIR/<class>/<name>.mask.npz   its ground truth, when there is one: `mask` (the actor) and `cue` (bool T x H x W)
    DIR/random/<name>.mp4         videos of no class: the random sets CAVs are trained against

Kept apart from the generator (jobs/synth.py) so that what reads a data set needs no part of what draws one."""

from __future__ import annotations

from pathlib import Path

from ace3d.errors import Ace3dError

RANDOM_DIR = "random"
VIDEO_SUFFIXES = (".mp4", ".webm", ".avi", ".mkv", ".npy")
MASK_SUFFIX = ".mask.npz"


def list_videos(data: str | Path, classes: list[str] | None = None) -> dict[str, list[Path]]:
    """Videos of a data set by class (DIR/<class>/*), random set excluded; `classes` must all be there."""
    data = Path(data)
    if not data.is_dir():
        raise Ace3dError(f"data directory not found: {data} (make one with `ace3d synth --out {data}`)")
    found = {d.name: sorted(p for p in d.iterdir() if p.suffix in VIDEO_SUFFIXES)
             for d in sorted(data.iterdir()) if d.is_dir() and d.name != RANDOM_DIR}
    if classes:
        missing = [c for c in classes if c not in found]
        if missing:
            raise Ace3dError(f"classes not found under {data}: {', '.join(missing)}")
        found = {c: found[c] for c in classes}
    return {c: v for c, v in found.items() if v}


def random_videos(data: str | Path) -> list[Path]:
    """The random set's videos (DIR/random/*.mp4) in order; empty when there is none."""
    folder = Path(data) / RANDOM_DIR
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


def mask_path(video: Path) -> Path:
    """Where a video's ground truth lies (beside it, same name)."""
    return video.with_name(video.name.rsplit(".", 1)[0] + MASK_SUFFIX)
