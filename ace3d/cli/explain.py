"""`ace3d explain`: one video explained, as a table, and on request JSON and an animated overlay."""

from __future__ import annotations

import argparse

from ace3d.cli.common import explainer, model_args

NAME = "explain"
HELP = "explain one video: table, JSON and overlay"


def add_arguments(sp: argparse.ArgumentParser) -> None:
    model_args(sp)
    sp.add_argument("video")
    sp.add_argument("--target", default=None, help="class to explain (default: the predicted one)")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--max-concepts", type=int, default=0)
    sp.add_argument("--max-clips", type=int, default=1, help="clips explained")
    sp.add_argument("--score-clips", type=int, default=0,
                    help="clips across the video whose mean gives the class scores (the clips explained are those "
                    "where the target is most probable); 0: the model's default (I3D: 2, others: 1)")
    sp.add_argument("--json", default=None)
    sp.add_argument("--overlay", default=None, help="animated GIF of heatmap and concept outlines")


def run(args) -> None:
    from ace3d import report, wire
    from ace3d.method import video
    from ace3d.method.explainer import Request
    from ace3d.serving import messages

    ex = explainer(args)
    # an unknown class fails here, before any work
    req = ex.resolve(Request(target_class=args.target, top_k=args.top_k, max_concepts=args.max_concepts,
                             max_clips=args.max_clips, score_clips=args.score_clips))
    v = video.read_file(args.video, video.limits_for(ex.clf.clip_shape))
    exp = messages.explanation(ex.explain(v, req))
    print(report.table(exp))
    if args.json:
        report.write_text(args.json, wire.to_json(exp))
        print(f"wrote {args.json}")
    if args.overlay:
        if report.overlay(v, exp, args.overlay):
            print(f"wrote {args.overlay}")
