"""`ace3d bench`: what an explanation costs beside the prediction it explains, on this machine, and proof that
the speed was not bought with faithfulness. A benchmark, not a test: it reports, it asserts nothing.

Measured side by side on the same model, clip and machine:
1. classification only (the floor): a classify-only request;
2. this project's explanation, as served (the explainer's removal and SLIC settings), stage by stage;
3. the reference pipeline (`baselines.reference_pipeline`: the paper's code path, unbatched);
4. captum's FeatureAblation over the explanation's 50-segment supervoxel labels.
Then, on a synthetic test set, the concept-deletion AUC of 2 and 4 and of 2 with scikit-image's SLIC in place
of the torch one, and how closely the two SLICs agree (boundary recall, undersegmentation error)."""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ace3d import baselines
from ace3d.explain import Explainer, Request
from ace3d.supervoxels import SlicParams, boundary_recall, segment, undersegmentation_error
from ace3d.synth import DIRECTIONS, generate, list_videos, mask_path, render
from ace3d.video import decode, read_file, write_mp4


def default_video_bytes(seed: int = 0) -> bytes:
    """One synthetic move_right video as mp4 bytes (what a caller would send)."""
    frames, _ = render(np.random.default_rng(seed), DIRECTIONS["move_right"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clip.mp4"
        write_mp4(path, frames)
        return path.read_bytes()


def _median_p90(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"median_ms": statistics.median(xs) * 1000, "p90_ms": xs[min(len(xs) - 1, int(0.9 * len(xs)))] * 1000,
            "runs": len(xs)}


def _timed(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def _labels_near(sv, params: SlicParams, n_segments: int = 50) -> np.ndarray:
    """An explanation's own supervoxel labels at the resolution closest to `n_segments` (captum's features)."""
    return sv.labels[int(np.argmin([abs(n - n_segments) for n in params.n_segments]))]


def _segments_of(explainer: Explainer, frames: np.ndarray, n_segments: int = 50) -> np.ndarray:
    return _labels_near(segment(frames, explainer.slic, explainer.clf.device), explainer.slic, n_segments)


def _machine(explainer: Explainer) -> dict:
    dev = explainer.clf.device
    return {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "device": str(dev), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}


def speed(explainer: Explainer, repeats: int = 5, baseline_repeats: int = 3, seed: int = 0,
          compare: bool = True, target_class: str | None = None) -> dict:
    """Timings of 1-4 on the default clip (median and p90 over `repeats`; the slow baselines over
    `baseline_repeats`), the stage split of 2, the ratios 2/1, 3/2, 4/2 and, with `compare`, `segment_ms`
    (torch SLIC against scikit-image's, see `slic_timing`). The baselines' runs are spread between the
    explanation's rounds, so that a slow spell of the machine lands on all four and not on one ratio's side."""
    data = default_video_bytes(seed)
    video = decode(data)
    request = Request(target_class=target_class)
    first, _ = explainer.explain(video, request)  # warm-up: first-call allocations are not the steady state
    clip, target, clf = explainer.clips(video, Request())[0], first.target_index, explainer.clf
    labels = _segments_of(explainer, clip.frames) if compare else None
    stage_names = ("classify", "supervoxels", "features", "importance")
    stages: dict[str, list[float]] = {"decode": [], **{k: [] for k in stage_names}}
    classify, explain, ref_times, cap_times = [], [], [], []
    ref = cap = None
    # round i runs each baseline as often as i appears here: evenly spread over the rounds
    spread = [int(r * repeats / baseline_repeats) for r in range(baseline_repeats)] if compare else []
    for i in range(repeats):
        for _ in range(spread.count(i)):
            times, ref = _timed(lambda: baselines.reference_pipeline(clf, explainer.bank, clip.frames, target), 1)
            ref_times += times
            times, cap = _timed(lambda: baselines.captum_ablation(clf, clip.frames, labels, target), 1)
            cap_times += times
        t0 = time.perf_counter()
        decode(data)
        stages["decode"].append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        explainer.explain(video, Request(classify_only=True))
        classify.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        exp, _ = explainer.explain(video, request)
        explain.append(time.perf_counter() - t2)
        for name in stage_names:
            stages[name].append(exp.timings_ms.get(name, 0.0) / 1000)
    out: dict = {"classify_only": _median_p90(classify), "explain": _median_p90(explain),
                 "explain_stages": {k: _median_p90(v) for k, v in stages.items()},
                 "target_class": first.target_class}
    out["ratio_explain_to_classify"] = out["explain"]["median_ms"] / out["classify_only"]["median_ms"]
    if ref is None:  # no baseline ran: compare off, or baseline_repeats 0
        return out
    out["reference"] = {**_median_p90(ref_times), "forwards": ref.forwards, "clips_evaluated": ref.clips_evaluated}
    out["captum_feature_ablation"] = {**_median_p90(cap_times), "forwards": cap.forwards,
                                      "clips_evaluated": cap.clips_evaluated, "segments": len(cap.scores),
                                      "perturbations_per_eval": 16}
    out["segment_ms"] = slic_timing(clip.frames, explainer.slic, explainer.clf.device)
    med = out["explain"]["median_ms"]
    out["ratio_reference_to_explain"] = out["reference"]["median_ms"] / med
    out["ratio_captum_to_explain"] = out["captum_feature_ablation"]["median_ms"] / med
    return out


def slic_timing(frames: np.ndarray, params: SlicParams, device: torch.device, rounds: int = 30) -> dict:
    """Median `segment()` time of the explainer's SLIC, of scikit-image's at the same settings and of
    scikit-image's at its reference 10 iterations, timed interleaved so that the machine's drift hits all
    three alike."""
    variants = {f"{params.method}_{params.iterations}_iterations": params,
                f"skimage_{params.iterations}_iterations": dataclasses.replace(params, method="skimage"),
                "skimage_10_iterations": dataclasses.replace(params, method="skimage", iterations=10)}
    times: dict[str, list[float]] = {k: [] for k in variants}
    for i in range(rounds + 1):
        for name, v in variants.items():
            t0 = time.perf_counter()
            segment(frames, v, device)
            if i:  # the first round warms up
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}


def faithfulness(explainer: Explainer, data: str | Path, limit: int = 10, progress: bool = True) -> dict:
    """Deletion AUC (target probability vs share of voxels removed, most important region first; lower is more
    faithful) of this explainer, of the same explainer with scikit-image's SLIC, and of captum's
    FeatureAblation, over correctly classified test videos; plus the two SLICs' agreement."""
    reference_slic = dataclasses.replace(explainer.slic, method="skimage", iterations=10)
    sk = Explainer(explainer.clf, explainer.bank, slic=reference_slic, removal=explainer.removal,
                   batch_size=explainer.batch_size)
    classes = [c for c in explainer.clf.class_names if (Path(data) / c).is_dir()]
    videos = [(explainer.clf.class_names.index(c), p) for c, ps in list_videos(data, classes).items()
              for p in ps[:limit]]
    auc: dict[str, list[float]] = {"explain": [], "explain_skimage_slic": [], "captum_feature_ablation": []}
    recall, ue_torch, ue_skimage = [], [], []
    clf = explainer.clf
    for label, path in tqdm(videos, desc="deletion AUC", disable=not progress):
        video = read_file(path)
        exp, res = explainer.explain(video, Request())
        if exp.target_index != label or not res:
            continue
        r = res[0]
        frames = r.clip.frames
        auc["explain"].append(baselines.deletion_auc(clf, frames, r.masks, label))
        _, res_sk = sk.explain(video, Request())
        auc["explain_skimage_slic"].append(baselines.deletion_auc(clf, frames, res_sk[0].masks, label))
        labels = _labels_near(r.supervoxels, explainer.slic)  # segmented once, by the explanation itself
        cap = baselines.captum_ablation(clf, frames, labels, label)
        auc["captum_feature_ablation"].append(baselines.deletion_auc(clf, frames, cap.masks, label))
        ref_labels = _labels_near(res_sk[0].supervoxels, sk.slic)
        recall.append(boundary_recall(ref_labels, labels))
        mp = mask_path(Path(path))
        if mp.exists():
            from ace3d.evaluate import clip_mask

            gt = clip_mask(np.load(mp, allow_pickle=False)["mask"], r.clip)
            ue_torch.append(undersegmentation_error(labels, gt))
            ue_skimage.append(undersegmentation_error(ref_labels, gt))
    out: dict = {"videos": len(auc["explain"]), "deletion_auc_mean": {k: float(np.mean(v)) if v else None
                                                                         for k, v in auc.items()}}
    out["slic_agreement"] = {
        "method": explainer.slic.method, "reference": "skimage",
        "boundary_recall_of_skimage_boundaries": float(np.mean(recall)) if recall else None,
        "undersegmentation_error_vs_actor": {"this": float(np.mean(ue_torch)) if ue_torch else None,
                                             "skimage": float(np.mean(ue_skimage)) if ue_skimage else None}}
    return out


def bench(explainer: Explainer, repeats: int = 5, baseline_repeats: int = 3, seed: int = 0, compare: bool = True,
          data: str | Path | None = None, auc_videos: int = 10, progress: bool = True) -> dict:
    """Speed (1-4) and, with `compare`, faithfulness on `data` (a synthetic set is generated when none is given:
    `auc_videos` per class, fresh seed 101)."""
    out = {"machine": _machine(explainer), "model": explainer.clf.name, "clip_shape": list(explainer.clf.clip_shape),
           "feature_mode": explainer.bank.feature_mode, "removal": explainer.removal,
           "perturbed_forwards_bf16": explainer.bf16,
           "slic": explainer.slic.to_dict(), "repeats": repeats}
    out.update(speed(explainer, repeats, baseline_repeats, seed, compare))
    if compare and auc_videos > 0:
        if data is None:
            with tempfile.TemporaryDirectory() as d:
                generate(d, per_class=auc_videos, seed=101, n_random=0, progress=False)
                out["faithfulness"] = faithfulness(explainer, d, auc_videos, progress)
            out["faithfulness"]["data"] = f"ace3d synth --per-class {auc_videos} --seed 101"
        else:
            out["faithfulness"] = faithfulness(explainer, data, auc_videos, progress)
            out["faithfulness"]["data"] = str(data)
    return out


# ------------------------------------------------------------------------------ random-weight models (GPU)
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
    import json

    from ace3d import models
    from ace3d.synth import CLASSES

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
    from ace3d.builder import BankParams, build
    from ace3d.concepts import ConceptParams

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
    out = {"machine": _machine(explainer), "model": clf.name, "clip_shape": list(clf.clip_shape),
           "weights": "random", "slic": explainer.slic.to_dict(), "removal": explainer.removal,
           "perturbed_forwards_bf16": explainer.bf16,
           "concepts_in_bank": len(bank.names)}
    out.update(speed(explainer, repeats, baseline_repeats, compare=compare, target_class=target))
    if requests > 0:
        out["throughput"] = throughput(explainer, concurrency, requests, target_class=target)
    return out


__all__ = ["bench", "default_video_bytes", "faithfulness", "random_model", "slic_timing", "speed", "synthetic_bench",
           "throughput"]
