"""How a bank's recipe and seed change what a few-clip class gets (docs/REAL_MODEL.md): the same build data
built with several cluster counts, smallest-cluster sizes and seeds, each class's concepts and significant
concepts counted, and banks of the same recipe matched across seeds (`sanity.match_banks`). The map stage
(segmentation and features) is read back from WORK's shards, so each extra build costs only its reduce stage.

Usage: python -m ace3d.evaluation.realbank_study --data DIR --classes A,B --work-dir WORK --out DIR
       [--recipes 25:20 12:10] [--seeds 0 1 2]"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def counts(bank) -> dict[str, list[int]]:
    """Per class: [concepts, significant concepts]."""
    sig = bank.significant()
    out = {}
    for c, name in enumerate(bank.class_names):
        idx = bank.concepts_of(c)
        if len(idx):
            out[name] = [int(len(idx)), int(sig[idx].sum())]
    return out


def main(argv: list[str] | None = None) -> None:
    from ace3d import models
    from ace3d.evaluation.sanity import match_banks
    from ace3d.jobs.build_bank import BankParams, build_local
    from ace3d.method.concepts import ConceptParams

    ap = argparse.ArgumentParser(prog="python -m ace3d.evaluation.realbank_study", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="i3d_kinetics400")
    ap.add_argument("--data", required=True)
    ap.add_argument("--classes", required=True, help="comma-separated")
    ap.add_argument("--work-dir", required=True)
    ap.add_argument("--out", required=True, help="folder for the banks and study.json")
    ap.add_argument("--recipes", nargs="+", default=["25:20", "12:10"], help="CLUSTERS:MIN_MEMBERS")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args(argv)
    clf = models.load(args.model)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    study = []
    for recipe in args.recipes:
        k, m = (int(x) for x in recipe.split(":"))
        banks = []
        for seed in args.seeds:
            params = BankParams(seed=seed, concepts=ConceptParams(n_clusters=k, min_members=m, seed=seed))
            res = build_local(clf, args.data, classes, params, progress=False, work_dir=args.work_dir)
            path = out / f"bank_k{k}_m{m}_s{seed}.npz"
            res.bank.save(path)
            banks.append(res.bank)
            row = {"clusters": k, "min_members": m, "seed": seed, "bank": str(path), "per_class": counts(res.bank),
                   "left_out": res.report.left_out, "size_bytes": path.stat().st_size}
            study.append(row)
            print(json.dumps(row), flush=True)
        for i in range(len(banks)):
            for j in range(i + 1, len(banks)):
                mb = match_banks(banks[i], banks[j])
                row = {"clusters": k, "min_members": m, "seeds": [args.seeds[i], args.seeds[j]], **mb}
                study.append(row)
                print(json.dumps(row), flush=True)
    (out / "study.json").write_text(json.dumps(study, indent=1, default=lambda o: o.tolist()
                                               if isinstance(o, np.ndarray) else str(o)))


if __name__ == "__main__":
    main()
