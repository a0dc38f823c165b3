"""`ace3d report`: one self-contained HTML page, a bank's concept gallery (no VIDEO) or one video explained
with the comparison methods side by side (ace3d/htmlreport/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ace3d.cli.common import explainer, load_model, model_args

NAME = "report"
HELP = ("one self-contained HTML page to open in a browser: a bank's concept gallery (no VIDEO), or VIDEO "
        "explained, with the comparison methods side by side")


def add_arguments(sp: argparse.ArgumentParser) -> None:
    model_args(sp)
    sp.add_argument("video", nargs="?", default=None, help="the video to explain (none: report on the bank)")
    sp.add_argument("--out", default="report.html", help="the HTML file to write (default: %(default)s)")
    sp.add_argument("--methods", default=None, help="with VIDEO: comparison methods, comma-separated (the names "
                    "`ace3d evaluate --methods` takes)")
    sp.add_argument("--target", default=None, help="with VIDEO: class to explain (default: the predicted one)")
    sp.add_argument("--top-k", type=int, default=5)
    sp.add_argument("--max-clips", type=int, default=1)
    sp.add_argument("--data", default=None, help="without VIDEO: videos per class (DIR/<class>/*.mp4) in which to "
                    "find each concept's example supervoxels again, to show them moving (needs the bank's --model)")
    sp.add_argument("--example-videos", type=int, default=8, help="with --data: videos per class to search")


def run(args) -> None:
    if args.video is None:
        _bank_gallery(args)
    else:
        _video_page(args)
    print(f"wrote {args.out}")


def _bank_gallery(args) -> None:
    from ace3d import report
    from ace3d.errors import OptionsError
    from ace3d.htmlreport import bank_page
    from ace3d.method import bank

    path = bank.path_for(args.model, args.bank)
    if path is None:
        raise OptionsError("give a bank (--bank FILE) or a VIDEO to explain")
    b, examples = bank.load(path), None
    if args.data:
        from ace3d.htmlreport.examples import find_examples

        examples = find_examples(load_model(args), b, args.data, videos_per_class=args.example_videos)
    shown = path.resolve().relative_to(Path.cwd()) if path.resolve().is_relative_to(Path.cwd()) else path
    report.write_text(args.out, bank_page.render(b, examples, source=str(shown)))


def _video_page(args) -> None:
    """One video explained, with the comparison methods asked for (checked before any work)."""
    from ace3d import report
    from ace3d.errors import OptionsError
    from ace3d.evaluation.methods import NAMES
    from ace3d.htmlreport import explanation_page
    from ace3d.method import video
    from ace3d.method.explainer import Request

    names = [m.strip() for m in (args.methods or "").split(",") if m.strip()]
    unknown = [m for m in names if m not in NAMES]
    if unknown:
        raise OptionsError(f"unknown explanation method(s) {', '.join(unknown)}; use any of {', '.join(NAMES)}")
    ex = explainer(args)
    req = ex.resolve(Request(target_class=args.target, top_k=args.top_k, max_clips=args.max_clips))
    v = video.read_file(args.video, video.limits_for(ex.clf.clip_shape))
    exp, rankings = explanation_page.explain(ex, v, req, names)
    report.write_text(args.out, explanation_page.render(exp, rankings, source=Path(args.video).name))
