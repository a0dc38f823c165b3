"""`ace3d evaluate`: six evaluations behind one command, the first whose options are given wins (`MODES`):
the sanity checks, the planted-shortcut benchmark, methods side by side on real videos, real videos without
ground truth, methods side by side on a synthetic set, and 3D ACE alone on a synthetic set."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

from ace3d.cli.common import explainer, model_args, model_spec

NAME = "evaluate"
HELP = ("faithfulness and localisation on a synthetic test set (--data), or faithfulness without ground truth on "
        "real videos (--videos)")


def add_arguments(sp: argparse.ArgumentParser) -> None:
    from ace3d.evaluation.methods import NAMES

    model_args(sp)
    sp.add_argument("--data", default=None, help="synthetic test set with ground-truth masks")
    sp.add_argument("--videos", nargs="+", default=None, help="real videos: top vs random concept, curves")
    sp.add_argument("--methods", default=None, help="with --data or --videos: methods side by side "
                    f"({', '.join(NAMES)}); one table")
    sp.add_argument("--max-clips", type=int, default=4, help="with --videos: clips per video")
    sp.add_argument("--figure", default=None, help="with --videos: write the curves as a PNG here")
    sp.add_argument("--json", default=None)
    sp.add_argument("--limit", type=int, default=0, help="videos per class (0: all; --sanity: 5)")
    sp.add_argument("--sanity", action="store_true", help="with --data: sanity checks (parameter randomisation "
                    "of --methods, random concepts, and with --bank-data bank stability over --seeds)")
    sp.add_argument("--bank-data", default=None, help="with --sanity: the bank's data, to build it again per seed")
    sp.add_argument("--seeds", default="0,1,2", help="with --sanity --bank-data: the seeds of the banks compared")
    sp.add_argument("--shortcut", default=None, metavar="CLASS", help="planted-shortcut benchmark: --data is a "
                    "test set with the cue in every video (`synth --cue all`), CLASS the class it was planted for")
    sp.add_argument("--without-cue", default=None, help="with --shortcut: the same videos without the cue")
    sp.add_argument("--control", default=None, type=model_spec,
                    help="with --shortcut: a model trained without the cue (spec)")
    sp.add_argument("--control-bank", default=None, help="with --control: its bank (default: none)")


def run(args) -> None:
    from ace3d import report

    evaluation = select(args)
    res = evaluation(args, explainer(args))
    text = json.dumps(res, indent=1)
    print(text)
    if args.json:
        report.write_text(args.json, text)


def _names(methods: str | None, default: tuple[str, ...] = ()) -> list[str]:
    return methods.split(",") if methods else list(default)


def method(name: str, ex):
    """The comparison method `name` built from the explainer's parts (engine, bank, SLIC, removal)."""
    from ace3d.evaluation import methods

    return methods.build(name, ex.engine, bank=ex.bank, slic=ex.slic, removal=ex.removal)


def sanity_checks(args, ex) -> dict:
    """`--sanity` (evaluation/sanity.py)."""
    from ace3d.evaluation import sanity

    seeds = tuple(int(s) for s in args.seeds.split(","))
    res = sanity.run(ex.engine, args.data, _names(args.methods, sanity.DEFAULT_METHODS), bank=ex.bank,
                     per_class=args.limit or 5, bank_data=args.bank_data, seeds=seeds)
    print(sanity.table(res))
    return res


def shortcut_benchmark(args, ex) -> dict:
    """`--shortcut CLASS` (evaluation/shortcut.py), with `--control` also on a model trained without the cue."""
    from ace3d import models
    from ace3d.evaluation import shortcut
    from ace3d.method.bank import load, path_for
    from ace3d.method.explainer import Explainer

    names = _names(args.methods, shortcut.DEFAULT_METHODS)

    def on(e) -> dict:
        return shortcut.evaluate_shortcut(e.engine, {n: method(n, e) for n in names}, args.data,
                                          args.without_cue, args.shortcut, limit=args.limit, bank=e.bank)

    res = {"cue_model": on(ex)}
    if args.control:
        control_bank = path_for(args.control, args.control_bank)
        res["control_model"] = on(Explainer(models.load(args.control), load(control_bank) if control_bank else None,
                                            removal=args.removal, precision=args.precision))
    print(shortcut.table(res["cue_model"], res.get("control_model")))
    return res


def methods_on_videos(args, ex) -> dict:
    """`--videos FILE... --methods a,b`: several methods on the same clips of real videos."""
    from ace3d.evaluation.real_video import compare_methods, methods_table

    res = compare_methods(ex.engine, args.videos, _names(args.methods), bank=ex.bank, removal=ex.removal,
                          max_clips=args.max_clips)
    print(methods_table(res))
    return res


def on_videos(args, ex) -> dict:
    """`--videos FILE...`: real videos, no ground truth (top against random concept, curves)."""
    from ace3d.evaluation.real_video import evaluate_videos, plot

    res = evaluate_videos(ex.engine, args.videos, bank=ex.bank, removal=ex.removal, max_clips=args.max_clips)
    if args.figure:
        print(f"wrote {plot(res, args.figure)}")
    return res


def methods_on_data(args, ex) -> dict:
    """`--data DIR --methods a,b`: several methods side by side on the same clips, one table."""
    from ace3d.evaluation.faithfulness import evaluate, table

    res = {name: evaluate(ex.engine, method(name, ex), args.data, limit=args.limit)
           for name in _names(args.methods)}
    print(table(res))
    return res


def on_data(args, ex) -> dict:
    """`--data DIR`: 3D ACE's faithfulness and localisation against the ground truth."""
    from ace3d.evaluation.faithfulness import evaluate

    return evaluate(ex.engine, method("ace", ex), args.data, limit=args.limit)


Evaluation = Callable[[argparse.Namespace, object], dict]
MODES: tuple[tuple[Callable[[argparse.Namespace], object], Evaluation], ...] = (
    (lambda a: a.sanity, sanity_checks),
    (lambda a: a.shortcut, shortcut_benchmark),
    (lambda a: a.videos and a.methods, methods_on_videos),
    (lambda a: a.videos, on_videos),
    (lambda a: a.data and a.methods, methods_on_data),
    (lambda a: a.data, on_data),
)


def select(args) -> Evaluation:
    """The evaluation the options ask for, its options checked before the model loads."""
    from ace3d.errors import Ace3dError

    evaluation = next((e for applies, e in MODES if applies(args)), None)
    if evaluation in (sanity_checks, shortcut_benchmark) and not args.data:
        raise Ace3dError("--sanity and --shortcut need --data DIR (for --shortcut: the test set with the cue)")
    if evaluation is shortcut_benchmark and not args.without_cue:
        raise Ace3dError("--shortcut CLASS needs --without-cue DIR: the same videos as --data without the cue "
                         "(`ace3d synth --cue none` with the same --seed)")
    if evaluation is None:
        raise Ace3dError("give --data DIR (a synthetic set with ground truth) or --videos FILE ... (real videos)")
    return evaluation
