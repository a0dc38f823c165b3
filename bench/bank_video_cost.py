"""The map stage's cost per video (decode, supervoxels, features, gradient, thumbnails) for one model, on this
machine: what a bank build's time is made of, and the basis of the estimate for a large build
(docs/PERFORMANCE.md, "Bank build"). Runs `process_video`, the function both engines call.

    python bench/bank_video_cost.py --model i3d_kinetics400 --videos tests/data/*.gif data/real/*.mp4 [--ace]
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
    ap.add_argument("--videos", nargs="+", required=True)
    ap.add_argument("--feature-mode", choices=("pooled", "ace"), default="pooled")
    ap.add_argument("--repeats", type=int, default=2, help="passes over the videos (the first warms up)")
    args = ap.parse_args()

    import torch

    from ace3d import models
    from ace3d.jobs.bank_stages import process_video
    from ace3d.jobs.build_bank import BankParams

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


if __name__ == "__main__":
    main()
