"""`ace3d synth`: a synthetic data set with ground-truth masks (ace3d/jobs/synth.py)."""

from __future__ import annotations

import argparse

NAME = "synth"
HELP = "write a synthetic data set with ground-truth masks"


def add_arguments(sp: argparse.ArgumentParser) -> None:
    from ace3d.jobs.looks import LOOKS

    sp.add_argument("--out", required=True)
    sp.add_argument("--per-class", type=int, default=50)
    sp.add_argument("--random", type=int, default=None, help="random videos (default: per-class)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--look", choices=("plain", *LOOKS), default="plain",
                    help="plain: the default model's data; varied: more shapes, outlines, backgrounds, lighting, "
                    "distractors that move (for training); random: each clip its own shapes, backgrounds and "
                    "distractor motions (for training); shifted, far: looks held out from training")
    sp.add_argument("--cue", default="none", help="plant a shortcut: a flickering corner square in most videos of "
                    "this class and few of the others; 'all' or 'none' for cue-swapped test sets (same seed)")
    sp.add_argument("--cue-share", type=float, nargs=2, default=(0.9, 0.05), metavar=("CLASS", "OTHERS"),
                    help="with --cue CLASS: share of that class's videos with the cue, and of the others'")


def run(args) -> None:
    from ace3d.jobs.synth import SynthConfig, generate

    cfg = SynthConfig(look=args.look, cue=args.cue, cue_share=tuple(args.cue_share))
    generate(args.out, per_class=args.per_class, seed=args.seed, n_random=args.random, cfg=cfg)
    print(f"wrote synthetic videos to {args.out}")
