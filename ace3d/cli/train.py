"""`ace3d train`: the default model on a synthetic data set (jobs/train.py), or the Kinetics I3D adapted to
the data's classes (jobs/transfer.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ace3d.cli.common import model_spec

NAME = "train"
HELP = "train the default model on a synthetic data set"


def add_arguments(sp: argparse.ArgumentParser) -> None:
    from ace3d.models import i3d

    sp.add_argument("--data", required=True, nargs="+",
                    help="training set(s): several are trained on together (say, two looks)")
    sp.add_argument("--out", required=True, help="output path stem: writes .pt and .json")
    sp.add_argument("--test-data", nargs="+", default=None, help="test sets: accuracy on each")
    sp.add_argument("--epochs", type=int, default=14)
    sp.add_argument("--size", type=int, default=64, help="clip height and width")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (one-cycle schedule)")
    sp.add_argument("--still", type=float, default=0.0,
                    help="share of each batch made motionless and labelled no_motion (adds that class)")
    sp.add_argument("--init", default=None, type=model_spec, help="model spec to start from, e.g. demo "
                    f"(fine-tuning), or {i3d.NAME}: the Kinetics I3D cut at Mixed_3c with a new head for the "
                    "data's classes")


def run(args) -> None:
    from ace3d.models import i3d

    if args.init == i3d.NAME:  # the Kinetics model adapted to the data's classes, not fine-tuned
        from ace3d.jobs.transfer import TransferConfig, train_transfer

        rec = train_transfer(args.data, args.out, TransferConfig(still=args.still or 0.2, seed=args.seed),
                             test_data=args.test_data)
        for data, t in rec["training"]["tests"].items():
            print(f"test accuracy {t['accuracy']:.3f} on {t['videos']} videos of {data}")
        print(f"saved {Path(args.out).with_suffix('.pt')} and .json")
        return
    from ace3d.jobs.train import TrainConfig, train

    cfg = TrainConfig(epochs=args.epochs, seed=args.seed, clip_shape=(16, args.size, args.size), lr=args.lr,
                      still=args.still, init=args.init)
    rec = train(args.data, args.out, cfg, test_data=args.test_data)
    acc = rec["training"].get("test_accuracy")
    tail = f"; test accuracy {acc:.3f}" if acc is not None else ""
    print(f"saved {Path(args.out).with_suffix('.pt')} and .json{tail}")
