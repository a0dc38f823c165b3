"""The explanation-quality signals (ace3d/serving/quality.py) of the committed demo model on fresh synthetic
videos, with and without its bank: what "normal" looks like on the dashboard (docs/OPERATIONS.md).

    PYTHONPATH=. .venv/bin/python scripts/quality_baseline.py [OUT_DIR]   # default out/quality-baseline
"""

from __future__ import annotations

import collections
import sys
from pathlib import Path

import numpy as np

from ace3d import models
from ace3d.jobs.synth import generate
from ace3d.method import bank as banks
from ace3d.method.explainer import Explainer
from ace3d.models import ASSETS
from ace3d.serving import protocol, quality
from ace3d.serving.service import ExplainService, ServiceConfig


def main(out: Path) -> None:
    if not out.exists():
        generate(out, per_class=4, seed=21, n_random=0, progress=False)
    videos = sorted(v for v in out.glob("*/*.mp4") if "random" not in v.parts[-2])
    clf = models.load("demo")
    for bank in (banks.load(ASSETS / "demo_bank.npz"), None):
        service = ExplainService(Explainer(clf, bank), ServiceConfig())
        falls, effects, unknown = [], collections.Counter(), []
        for v in videos:
            for clip in list(service.answer({protocol.VIDEO: v.read_bytes()}))[-1].clips:
                fall = quality.top_concept_fall(clip)
                if fall is not None:
                    falls.append(fall)
                effects[quality.top_concept_effect(clip)] += 1
                unknown.append(quality.unknown_coverage(clip))
        print(f"{'with the bank' if bank else 'without a bank'}: {len(videos)} videos, top-concept fall median "
              f"{np.median(falls):.3f} p10 {np.percentile(falls, 10):.3f}; effects {dict(effects)}; "
              f"unknown coverage mean {np.mean(unknown):.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("out/quality-baseline"))
