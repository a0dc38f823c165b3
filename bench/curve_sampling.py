"""The adaptive ranking curves (`metrics._curve(max_points=...)`) against the exact ones: for a few synthetic
clips and four methods on the demo model, each ranking's deletion (project's fill and blur) and insertion areas
measured both ways, their differences and the clips each way sends through the network (docs/FAITHFULNESS.md).

Usage: ace3d synth --out SYNTH --per-class 3 --seed 7
       PYTHONPATH=. python bench/curve_sampling.py SYNTH [--every 3] [--max-points 6]"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    from ace3d import models
    from ace3d.evaluation import methods
    from ace3d.evaluation.metrics import ranking_aucs
    from ace3d.method import bank as banks
    from ace3d.method.video import make_clips, read_file
    from ace3d.models import ASSETS
    from ace3d.models.engine import ForwardEngine

    ap = argparse.ArgumentParser(prog="bench/curve_sampling.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("synth", help="a folder of `ace3d synth` (its move_* classes are used)")
    ap.add_argument("--every", type=int, default=3, help="take every N-th video")
    ap.add_argument("--max-points", type=int, default=6)
    args = ap.parse_args(argv)
    clf = models.load("demo")
    bank = banks.load(ASSETS / "demo_bank.npz")
    engine = ForwardEngine(clf)
    files = sorted(Path(args.synth).glob("move_*/*.mp4"))[::args.every]
    diffs: dict[tuple[str, str], list[float]] = {}
    exact_clips = adaptive_clips = 0
    for f in files:
        clip = make_clips(read_file(f), clf.clip_shape)[0]
        target = int(engine.classify([clip.frames])[1][0].argmax())
        for name in ("ace", "grad_cam", "integrated_gradients", "random"):
            a = methods.build(name, engine, bank=bank).attribute(clip, target)
            c0 = engine.clips
            exact = ranking_aucs(engine, clip.frames, a.masks, target)
            c1 = engine.clips
            adaptive = ranking_aucs(engine, clip.frames, a.masks, target, args.max_points, {})
            exact_clips, adaptive_clips = exact_clips + c1 - c0, adaptive_clips + engine.clips - c1
            for k in exact:
                diffs.setdefault((name, k), []).append(adaptive[k] - exact[k])
    print(f"{len(files)} clips; adaptive minus exact area:")
    for (name, k), v in sorted(diffs.items()):
        d = np.asarray(v)
        print(f"  {name:22s} {k:14s} mean {d.mean():+.4f}  max |diff| {np.abs(d).max():.4f}")
    print(f"clips through the network: exact {exact_clips}, adaptive {adaptive_clips}")


if __name__ == "__main__":
    main()
