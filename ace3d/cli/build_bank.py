"""`ace3d build-bank`: discover concepts and test them (TCAV) into a bank file, in this process or on a Ray
cluster (the same stages: jobs/build_bank.py, jobs/bank_ray.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ace3d.cli.common import load_model, model_args

NAME = "build-bank"
HELP = "discover concepts and test them (TCAV) into a bank file"


def add_arguments(sp: argparse.ArgumentParser) -> None:
    from ace3d.method.features import MODES
    from ace3d.method.slic_params import SlicParams

    model_args(sp, bank=False)
    sp.add_argument("--data", required=True)
    sp.add_argument("--out", required=True)
    sp.add_argument("--classes", default="all", help="all, or a comma-separated list")
    sp.add_argument("--feature-mode", choices=MODES, default="pooled")
    sp.add_argument("--random-sets", type=int, default=20)
    sp.add_argument("--clusters", type=int, default=25)
    sp.add_argument("--min-members", type=int, default=20)
    sp.add_argument("--max-videos", type=int, default=0, help="videos per class (0: all)")
    sp.add_argument("--min-videos", type=int, default=2,
                    help="a class with fewer usable videos is left out of the bank, with a message")
    sp.add_argument("--engine", choices=("local", "ray"), default="local",
                    help="local: this process; ray: a Ray cluster (the same bank; docs/DEPLOY.md)")
    sp.add_argument("--address", default=None, help="with --engine ray: the cluster to join (default: start "
                    "a local Ray on this machine)")
    sp.add_argument("--work-dir", default=None, help="per-video results as shards, so a rerun resumes (every "
                    "Ray node must see it; default with --engine ray: OUT with the suffix .work; local: none)")
    sp.add_argument("--workers", type=int, default=0,
                    help="with --engine ray: map-stage actors (default: one per GPU, or per CPU without GPUs)")
    sp.add_argument("--cpus-per-worker", type=int, default=1, help="with --engine ray: CPUs (torch threads) "
                    "per map-stage actor")
    slic = SlicParams()
    sp.add_argument("--n-segments", type=int, nargs="+", default=list(slic.n_segments),
                    help="SLIC resolutions (default: %(default)s; the paper's: 15 50 80)")
    sp.add_argument("--slic-downscale", type=int, default=slic.downscale,
                    help="segment clips shrunk by this factor in H and W (default: %(default)s; the paper's: 1)")
    sp.add_argument("--slic-method", choices=("skimage", "torch"), default=slic.method,
                    help="torch: vectorised, runs on the model's device; skimage: the reference")
    sp.add_argument("--slic-iterations", type=int, default=slic.iterations)
    sp.add_argument("--compactness", type=float, default=slic.compactness,
                    help="SLIC compactness (higher: more regular shapes)")


def run(args) -> None:
    from ace3d.jobs.bank_params import BankParams
    from ace3d.method.concepts import ConceptParams
    from ace3d.method.slic_params import SlicParams

    clf = load_model(args)
    classes = None if args.classes in (None, "all") else [c.strip() for c in args.classes.split(",") if c.strip()]
    params = BankParams(feature_mode=args.feature_mode, n_random_sets=args.random_sets,
                        slic=SlicParams(n_segments=tuple(args.n_segments), downscale=args.slic_downscale,
                                        method=args.slic_method, iterations=args.slic_iterations,
                                        compactness=args.compactness),
                        concepts=ConceptParams(n_clusters=args.clusters, min_members=args.min_members),
                        max_videos_per_class=args.max_videos, min_videos=args.min_videos)
    if args.engine == "ray":  # the same stages on a Ray cluster (ace3d/jobs/bank_ray.py)
        from ace3d.jobs.bank_ray import ModelSpec, build_ray

        result = build_ray(clf, ModelSpec(args.model, args.layer), args.data,
                           args.work_dir or Path(args.out).with_suffix(".work"), classes, params,
                           address=args.address, workers=args.workers, cpus_per_worker=args.cpus_per_worker)
    else:
        from ace3d.jobs.build_bank import build_local

        result = build_local(clf, args.data, classes, params, work_dir=args.work_dir)
    b = result.bank
    b.save(args.out)
    sig = int(b.significant().sum())
    print(result.report.summary())
    print(f"wrote {args.out}: {len(b.names)} concepts ({sig} significant at alpha {b.alpha}), "
          f"bank id {b.bank_id}, {b.meta['build_seconds']} s")
