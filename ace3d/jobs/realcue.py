"""A planted shortcut in real video: a broadcaster's badge flickering in a corner of one class's clips of the
real set (`make realset`), for `ace3d train --init i3d_kinetics400` and `ace3d evaluate --shortcut`
(docs/FAITHFULNESS.md, "The shortcut on the real backbone").

Layout written under OUT, from the real set's index:
- OUT/train/<class>/: the build clips of every labelled class with at least `min_clips` of them; the badge in
  `cue_share[0]` of the cue class's clips and `cue_share[1]` of the others' (synth.py's shares);
- OUT/train/random/: the unlabelled build clips, the random sets a bank is tested against;
- OUT/with_cue/<class>/ and OUT/without_cue/<class>/: every held-out clip of those classes, with and without the
  badge, under the same name (what `shortcut.pairs` matches).
Beside each clip, <name>.mask.npz holds `cue` (where the badge sits, every frame) and `mask` (the actor's voxels:
unknown in real footage, left empty).

With `badge_only`, the classes are "badge" and "plain": the cue class's build clips, every other clip of each
video with the badge ("badge") and the rest without ("plain"), so every video's scene is in both classes and the
badge is the only thing that tells them apart; the held-out pairs are the cue class's clips, under "badge". A
model trained on it must use the badge, which the other layout cannot promise.

The badge sits in the top-left corner of the square the model crops, and is drawn on odd frames only: a static
mark would vanish from models that see frame differences."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ace3d.datasets import MASK_SUFFIX, RANDOM_DIR
from ace3d.errors import Ace3dError
from ace3d.method.video import center_region, read_file, write_mp4

BADGE = np.array([235, 30, 160], np.uint8)  # the badge's fill
TEXT = np.array([255, 255, 255], np.uint8)  # its caption bar


def badge_masks(height: int, width: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(where the badge sits: bool T x H x W, every frame; its caption bar inside it: bool H x W): a square of an
    eighth of the centred square crop, near that square's top-left corner."""
    x, y, side, _ = center_region(width, height, 1.0)
    size, at = max(4, side // 8), max(1, side // 16)
    sits = np.zeros((height, width), bool)
    sits[y + at:y + at + size, x + at:x + at + size] = True
    bar = np.zeros_like(sits)
    top = y + at + size // 2 - max(1, size // 8)
    bar[top:top + max(1, size // 4), x + at + size // 6:x + at + size - size // 6] = True
    return np.repeat(sits[None], frames, 0), bar


def plant_badge(frames: np.ndarray) -> np.ndarray:
    """`frames` (uint8 T x H x W x 3) with the badge drawn on its odd frames; returns where it sits."""
    t, h, w, _ = frames.shape
    sits, bar = badge_masks(h, w, t)
    for i in range(1, t, 2):
        frames[i][sits[i]] = BADGE
        frames[i][bar] = TEXT
    return sits


def _write(path: Path, frames: np.ndarray, cue: bool, fps: int) -> None:
    frames = frames.copy()
    where = plant_badge(frames) if cue else np.zeros(frames.shape[:3], bool)
    write_mp4(path, frames, fps=fps)
    np.savez_compressed(path.with_name(path.stem + MASK_SUFFIX), mask=np.zeros_like(where), cue=where)


def make(realset: str | Path, out: str | Path, cue_class: str, min_clips: int = 10,
         cue_share: tuple[float, float] = (0.9, 0.05), seed: int = 0, progress: bool = True,
         badge_only: bool = False) -> dict:
    """Write the layout above; returns what was written (clips per class and part, badges in training)."""
    realset, out = Path(realset), Path(out)
    index_path = realset / "index.json"
    if not index_path.is_file():
        raise Ace3dError(f"{index_path} not found: run `make realset` first")
    index = json.loads(index_path.read_text())
    fps = int(index["frame_rate"])
    files = index["files"]
    counts: dict[str, int] = {}
    for e in files:
        if e["part"] == "build" and e["classes"]:
            counts[e["classes"][0]] = counts.get(e["classes"][0], 0) + 1
    classes = sorted(c for c, n in counts.items() if n >= min_clips)
    if cue_class not in classes:
        raise Ace3dError(f"cue class {cue_class!r} has fewer than {min_clips} build clips in {realset}; classes "
                         f"with enough: {', '.join(classes) or 'none'}")
    rng = np.random.default_rng(seed)
    if badge_only:
        classes = ["badge", "plain"]
    summary = {"classes": classes, "cue_class": cue_class, "train": {}, "train_with_badge": {}, "random": 0,
               "held_out_pairs": {}}
    for e in tqdm(files, desc="real clips with a badge", unit="clip", disable=not progress):
        cls = e["classes"][0] if e["classes"] else None
        src = realset / e["file"]
        name = Path(e["file"]).name
        if badge_only and cls is not None:  # the cue class's clips only, relabelled by the badge
            if cls != cue_class:
                continue
            cls = "plain" if e["part"] == "build" and int(Path(name).stem.rsplit("_", 1)[1]) % 2 else "badge"
        if e["part"] == "build" and cls in classes:
            badge = cls == "badge" if badge_only else bool(rng.random() < cue_share[0 if cls == cue_class else 1])
            _write(out / "train" / cls / name, read_file(src).frames, badge, fps)
            summary["train"][cls] = summary["train"].get(cls, 0) + 1
            summary["train_with_badge"][cls] = summary["train_with_badge"].get(cls, 0) + badge
        elif e["part"] == "build" and not e["classes"]:
            _write(out / "train" / RANDOM_DIR / name, read_file(src).frames, False, fps)
            summary["random"] += 1
        elif e["part"] == "heldout" and cls in classes:
            frames = read_file(src).frames
            _write(out / "with_cue" / cls / name, frames, True, fps)
            _write(out / "without_cue" / cls / name, frames, False, fps)
            summary["held_out_pairs"][cls] = summary["held_out_pairs"].get(cls, 0) + 1
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m ace3d.jobs.realcue", description=__doc__.split("\n\n")[0])
    ap.add_argument("--realset", default="data/realset")
    ap.add_argument("--out", required=True)
    ap.add_argument("--cue-class", default="using segway", help="the class whose training clips carry the badge")
    ap.add_argument("--min-clips", type=int, default=10, help="build clips a class needs to be trained on")
    ap.add_argument("--cue-share", type=float, nargs=2, default=(0.9, 0.05), metavar=("CUE_CLASS", "OTHERS"),
                    help="share of the training clips with the badge (0 0: the same set without it, for a control)")
    ap.add_argument("--badge-only", action="store_true",
                    help="classes 'badge' and 'plain' from the cue class's clips, told apart by the badge alone")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(json.dumps(make(args.realset, args.out, args.cue_class, args.min_clips, tuple(args.cue_share),
                          seed=args.seed, badge_only=args.badge_only), indent=1))


if __name__ == "__main__":
    main()
