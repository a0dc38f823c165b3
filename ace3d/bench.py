"""`ace3d bench`: time one explanation of a default synthetic clip, stage by stage, beside a
classification alone, on this machine. A benchmark, not a test: it reports, it does not assert."""

from __future__ import annotations

import platform
import statistics
import time

import numpy as np
import torch

from ace3d.explain import Explainer, Request
from ace3d.synth import DIRECTIONS, render
from ace3d.video import decode, write_mp4


def default_video_bytes(seed: int = 0) -> bytes:
    """One synthetic move_right video as mp4 bytes (what a caller would send)."""
    import tempfile
    from pathlib import Path

    frames, _ = render(np.random.default_rng(seed), DIRECTIONS["move_right"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clip.mp4"
        write_mp4(path, frames)
        return path.read_bytes()


def _median_p90(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"median_ms": statistics.median(xs) * 1000, "p90_ms": xs[min(len(xs) - 1, int(0.9 * len(xs)))] * 1000}


def bench(explainer: Explainer, repeats: int = 5, seed: int = 0) -> dict:
    data = default_video_bytes(seed)
    stages: dict[str, list[float]] = {"decode": [], "classify_only": [], "explain_total": []}
    for name in ("classify", "supervoxels", "features", "importance"):
        stages[name] = []
    explainer.explain(decode(data), Request())  # warm-up
    for _ in range(repeats):
        t0 = time.perf_counter()
        video = decode(data)
        stages["decode"].append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        explainer.explain(video, Request(classify_only=True))
        stages["classify_only"].append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        exp, _ = explainer.explain(video, Request())
        stages["explain_total"].append(time.perf_counter() - t2)
        for name in ("classify", "supervoxels", "features", "importance"):
            stages[name].append(exp.timings_ms.get(name, 0.0) / 1000)
    out = {k: _median_p90(v) for k, v in stages.items()}
    out["ratio_explain_to_classify"] = out["explain_total"]["median_ms"] / out["classify_only"]["median_ms"]
    out["machine"] = {"processor": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                      "device": str(explainer.clf.device)}
    out["model"] = explainer.clf.name
    out["clip_shape"] = list(explainer.clf.clip_shape)
    out["feature_mode"] = explainer.bank.feature_mode
    out["repeats"] = repeats
    return out


__all__ = ["bench", "default_video_bytes"]
