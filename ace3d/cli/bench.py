"""`ace3d bench`: what an explanation costs beside a classification, the reference pipeline and captum
(evaluation/bench.py), or a random-weight X3D of a given shape on a device (evaluation/gpu_bench.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ace3d.cli.common import explainer, model_args

NAME = "bench"
HELP = ("what an explanation costs beside a classification, the reference pipeline and captum, and the deletion "
        "AUC that shows speed was not bought with faithfulness")


def add_arguments(sp: argparse.ArgumentParser) -> None:
    from ace3d.evaluation.gpu_bench import SHAPES

    model_args(sp)
    sp.add_argument("--repeats", type=int, default=7, help="timed runs of classification and explanation")
    sp.add_argument("--baseline-repeats", type=int, default=3, help="timed runs of the reference and captum")
    sp.add_argument("--no-compare", action="store_true", help="only classification and explanation")
    sp.add_argument("--data", default=None, help="synthetic test set for the deletion AUC (default: generate one)")
    sp.add_argument("--auc-videos", type=int, default=10, help="videos per class for the deletion AUC (0: skip)")
    sp.add_argument("--video", default=None, help="the clip to time (default: the synthetic default clip)")
    sp.add_argument("--random-model", choices=tuple(SHAPES), default=None,
                    help="time a random-weight X3D of this shape on --device instead (bench/gpu.sh; x3d_112: "
                    "the 16 x 112 x 112 X3D issue 5 measured)")
    sp.add_argument("--baselines", action="store_true",
                    help="with --random-model: also time the reference pipeline and captum (slow on a CPU)")
    sp.add_argument("--concurrency", type=int, default=8, help="callers for the throughput of --random-model")
    sp.add_argument("--requests", type=int, default=64,
                    help="explanations for the throughput of --random-model (0: skip)")
    sp.add_argument("--json", default=None)


def run(args) -> None:
    from ace3d import report
    from ace3d.evaluation.bench import bench
    from ace3d.evaluation.gpu_bench import synthetic_bench

    if args.random_model:
        res = synthetic_bench(args.random_model, args.device, repeats=args.repeats, concurrency=args.concurrency,
                              requests=args.requests, compare=args.baselines,
                              baseline_repeats=args.baseline_repeats)
    else:
        video = Path(args.video).read_bytes() if args.video else None
        res = bench(explainer(args), repeats=args.repeats, baseline_repeats=args.baseline_repeats,
                    compare=not args.no_compare, data=args.data, auc_videos=args.auc_videos, video=video)
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        report.write_text(args.json, text)
