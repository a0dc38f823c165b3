"""The GPU benchmark (bench/gpu.sh): random-weight X3Ds of known shapes, timed on any device. Random weights
time exactly like trained ones, and nothing is downloaded."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ace3d.evaluation.bench import machine, speed
from ace3d.jobs.synth import default_video_bytes, generate
from ace3d.method.explainer import Explainer, Request
from ace3d.method.supervoxels import SlicParams
from ace3d.method.video import decode

SHAPES = {  # pytorchvideo create_x3d arguments; x3d_s is X3D-S's shape (13 x 160 x 160), tiny is for CI,
    # x3d_112 the model issue 5 measured its costs with (create_x3d's defaults at 16 x 112 x 112)
    "x3d_s": {"clip_len": 13, "crop": 160, "width_factor": 2.0, "depth_factor": 2.2, "bottleneck_factor": 2.25,
              "head_dim_out": 2048, "stem_dim_in": 12, "dropout": 0.5},
    "x3d_112": {"clip_len": 16, "crop": 112, "width_factor": 2.0, "depth_factor": 2.2, "bottleneck_factor": 2.25,
                "head_dim_out": 2048, "stem_dim_in": 12, "dropout": 0.5},
    "tiny": {"clip_len": 4, "crop": 32, "width_factor": 0.5, "depth_factor": 0.5, "bottleneck_factor": 2.25,
             "head_dim_out": 32, "stem_dim_in": 12, "dropout": 0.5},
}


def random_model(out: Path, shape: str = "x3d_s", seed: int = 0) -> str:
    """Write a random-weight X3D of `shape` as a model config + weights in `out`; return its model spec.
    Random weights time exactly like trained ones; nothing is downloaded."""
    from ace3d import models
    from ace3d.jobs.synth import CLASSES

    b = SHAPES[shape]
    torch.manual_seed(seed)
    net = models.build_x3d(num_classes=len(CLASSES), **b)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out / f"{shape}.pt")
    cfg = {"name": f"{shape}_random", "arch": "x3d", "weights": f"{shape}.pt", "builder": b,
           "clip_shape": [b["clip_len"], b["crop"], b["crop"]], "layer": "blocks.4", "input_transform": None,
           "mean": list(models.KINETICS_MEAN), "std": list(models.KINETICS_STD), "class_names": list(CLASSES)}
    (out / f"{shape}.json").write_text(json.dumps(cfg, indent=1))
    return f"demo:{out / f'{shape}.json'}"


def throughput(explainer: Explainer, concurrency: int, requests: int, seed: int = 0,
               target_class: str | None = None) -> dict:
    """Explanations per second with `concurrency` callers sharing one explainer (threads: torch releases the
    GIL inside its kernels, so one caller's segmentation overlaps another's forward passes)."""
    from concurrent.futures import ThreadPoolExecutor

    video = decode(default_video_bytes(seed))
    request = Request(target_class=target_class)
    explainer.explain(video, request)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(lambda _: explainer.explain(video, request), range(requests)))
    wall = time.perf_counter() - t0
    return {"concurrency": concurrency, "requests": requests, "seconds": wall, "explanations_per_s": requests / wall}


def synthetic_bench(shape: str = "x3d_s", device: str = "cpu", repeats: int = 20, concurrency: int = 8,
                    requests: int = 64, per_class: int = 4, progress: bool = True, compare: bool = False,
                    baseline_repeats: int = 3) -> dict:
    """The GPU benchmark (bench/gpu.sh): a random-weight X3D of `shape` on `device`, a concept bank built for
    it from a small synthetic set (real segmentation, features and TCAV; the concepts mean nothing with random
    weights, the work is the same), then `speed` and `throughput`. `compare` also times the reference pipeline
    and captum (slow: one unbatched forward per supervoxel)."""
    from ace3d import models
    from ace3d.jobs.bank_params import BankParams
    from ace3d.jobs.build_bank import build
    from ace3d.method.concepts import ConceptParams

    with tempfile.TemporaryDirectory() as d:
        spec = random_model(Path(d) / "model", shape)
        clf = models.load(spec, device=device)
        generate(Path(d) / "data", per_class=per_class, seed=7, n_random=2 * per_class, progress=False)
        params = BankParams(slic=SlicParams(n_segments=(15, 50, 80), method="torch", downscale=2),
                            concepts=ConceptParams(n_clusters=40, min_members=2), n_random_sets=4, random_set_size=8)
        bank = build(clf, Path(d) / "data", params=params, progress=progress)
    explainer = Explainer(clf, bank)
    # explain the class with the most concepts: a random model's own prediction may have none to remove
    target = clf.class_names[int(np.bincount(bank.class_index, minlength=len(clf.class_names)).argmax())]
    out = {"machine": machine(explainer), "model": clf.name, "clip_shape": list(clf.clip_shape),
           "weights": "random", "slic": explainer.slic.to_dict(), "removal": explainer.removal,
           "perturbed_forwards_bf16": explainer.bf16,
           "concepts_in_bank": len(bank.names)}
    out.update(speed(explainer, repeats, baseline_repeats, compare=compare, target_class=target))
    if requests > 0:
        out["throughput"] = throughput(explainer, concurrency, requests, target_class=target)
    return out
