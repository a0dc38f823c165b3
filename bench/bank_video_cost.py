"""The map stage's cost per video (decode, supervoxels, features, gradient, thumbnails) for one model, on this
machine: what a bank build's time is made of, and the basis of the estimate for a large build
(docs/PERFORMANCE.md, "Bank build"). Runs `process_video`, the function both engines call.

    python bench/bank_video_cost.py --model i3d_kinetics400 --videos tests/data/*.gif data/real/*.mp4
    python bench/bank_video_cost.py --class-stage 100 64 832   # per-class stage: videos, supervoxels, channels

The per-class stage is timed on random features of the given size (the default recipe: 25 clusters, 20 random
sets): k-means and the CAV fits cost what the sizes make them cost, whatever the features mean.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--videos", nargs="+", default=[])
    ap.add_argument("--class-stage", nargs=3, type=int, default=None, metavar=("VIDEOS", "SUPERVOXELS", "CHANNELS"))
    ap.add_argument("--feature-mode", choices=("pooled", "ace"), default="pooled")
    ap.add_argument("--repeats", type=int, default=2, help="passes over the videos (the first warms up)")
    args = ap.parse_args()
    if args.class_stage:
        return class_stage(*args.class_stage)

    import torch

    from ace3d import models
    from ace3d.jobs.bank_params import BankParams
    from ace3d.jobs.bank_stages import process_video

    clf = models.load(args.model, device=args.device)
    params = BankParams(feature_mode=args.feature_mode)
    rows = []
    for rep in range(args.repeats):
        for v in args.videos:
            t0 = time.perf_counter()
            res = process_video(clf, v, 0, params)
            if rep > 0 or args.repeats == 1:
                rows.append({"video": v, "seconds": time.perf_counter() - t0, "n_supervoxels": len(res.features),
                             **{k: round(s, 3) for k, s in res.seconds.items()}, "error": res.error})
    steps = [k for k in rows[0] if k not in ("video", "seconds", "n_supervoxels", "error")]
    print(json.dumps({
        "model": args.model, "clip_shape": list(clf.clip_shape), "layer": clf.layer, "device": args.device,
        "torch_threads": torch.get_num_threads(), "feature_mode": args.feature_mode, "videos": len(rows),
        "seconds_per_video": round(float(np.mean([r["seconds"] for r in rows])), 3),
        "per_step": {k: round(float(np.mean([r[k] for r in rows])), 3) for k in steps},
        "supervoxels_per_video": float(np.mean([r["n_supervoxels"] for r in rows])),
        "runs": rows}, indent=1))


def class_stage(videos: int, supervoxels: int, channels: int) -> None:
    from ace3d.jobs.bank_params import BankParams
    from ace3d.jobs.bank_stages import VideoResult, class_rows, random_sets

    rng = np.random.default_rng(0)
    params = BankParams()

    def feats() -> np.ndarray:
        return rng.normal(size=(supervoxels, channels)).astype(np.float32)

    results = [VideoResult(feats(), rng.normal(size=channels).astype(np.float32),
                           np.zeros((supervoxels, 32, 32, 3), np.uint8)) for _ in range(videos)]
    _, rsets = random_sets([feats() for _ in range(20)], params)
    t0 = time.perf_counter()
    rows, sec = class_rows("class", 0, results, rsets, params)
    print(json.dumps({"videos": videos, "supervoxels": supervoxels, "channels": channels, "concepts": len(rows),
                      "seconds": round(time.perf_counter() - t0, 2),
                      "per_step": {k: round(v, 2) for k, v in sec.items()}}))


if __name__ == "__main__":
    main()
