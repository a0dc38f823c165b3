"""`ace3d bench`: what an explanation costs beside the prediction it explains, on this machine, and proof that
the speed was not bought with faithfulness. A benchmark, not a test: it reports, it asserts nothing.

Measured side by side on the same model, clip and machine:
1. classification only (the floor): a classify-only request;
2. this project's explanation, as served (the explainer's removal and SLIC settings), stage by stage;
3. the comparison methods (methods/: the paper's reference pipeline, captum's FeatureAblation over the
   explanation's own 50-segment supervoxels), through the one method interface.
Then, on a synthetic test set, the deletion AUC of 2, of 2 with scikit-image's SLIC in place of the torch one,
and of captum, and how closely the two SLICs agree (boundary recall, undersegmentation error)."""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ace3d.datasets import list_videos, mask_path
from ace3d.evaluation import methods
from ace3d.evaluation.faithfulness import clip_mask
from ace3d.evaluation.methods.over_segments import labels_near
from ace3d.evaluation.metrics import deletion_auc
from ace3d.jobs.synth import default_video_bytes, generate
from ace3d.method.explainer import Explainer, Request
from ace3d.method.stages import Stage
from ace3d.method.supervoxels import SlicParams, boundary_recall, segment, undersegmentation_error
from ace3d.method.video import decode, limits_for, read_file

BASELINES = ("reference", "captum_feature_ablation")


def _median_p90(xs: list[float]) -> dict:
    xs = sorted(xs)
    return {"median_ms": statistics.median(xs) * 1000, "p90_ms": xs[min(len(xs) - 1, int(0.9 * len(xs)))] * 1000,
            "runs": len(xs)}


def machine(explainer: Explainer) -> dict:
    dev = explainer.clf.device
    return {"processor": platform.processor() or platform.machine(), "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "device": str(dev), "torch": torch.__version__,
            "cuda": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}


def speed(explainer: Explainer, repeats: int = 5, baseline_repeats: int = 3, seed: int = 0,
          compare: bool = True, target_class: str | None = None, video: bytes | None = None) -> dict:
    """Timings of 1-3 on the default clip (median and p90 over `repeats`; the slow baselines over
    `baseline_repeats`), the stage split of 2, the ratios to 2 and, with `compare`, `segment_ms`
    (torch SLIC against scikit-image's, see `slic_timing`). The baselines' runs are spread between the
    explanation's rounds, so that a slow spell of the machine lands on all of them and not on one ratio's side.
    `video`: the clip to time (default: the synthetic default clip); each method's deletion AUC on it is
    reported beside its time."""
    data = video if video is not None else default_video_bytes(seed)
    limits = limits_for(explainer.clf.clip_shape)
    video = decode(data, limits)
    request = Request(target_class=target_class)
    first = explainer.explain(video, request)  # warm-up: first-call allocations are not the steady state
    clip, target, clf, engine = explainer.clips(video, Request())[0], first.target, explainer.clf, explainer.engine
    regions = segment(clip.frames, explainer.slic, clf.device) if compare else None
    baselines = {name: methods.build(name, engine, bank=explainer.bank, slic=explainer.slic)
                 for name in BASELINES} if compare else {}
    stage_names = (Stage.CLASSIFY, Stage.SUPERVOXELS, Stage.FEATURES, Stage.IMPORTANCE)
    stages: dict[str, list[float]] = {Stage.DECODE: [], **{k: [] for k in stage_names}}
    classify, explain = [], []
    times: dict[str, list[float]] = {name: [] for name in baselines}
    last: dict[str, methods.Attribution] = {}
    # round i runs each baseline as often as i appears here: evenly spread over the rounds
    spread = [int(r * repeats / baseline_repeats) for r in range(baseline_repeats)] if compare else []
    for i in range(repeats):
        for _ in range(spread.count(i)):
            for name, method in baselines.items():
                t0 = time.perf_counter()
                last[name] = method.attribute(clip, target, regions=regions if method.takes_regions else None)
                times[name].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        decode(data, limits)
        stages["decode"].append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        explainer.explain(video, Request(classify_only=True))
        classify.append(time.perf_counter() - t1)
        t2 = time.perf_counter()
        exp = explainer.explain(video, request)
        explain.append(time.perf_counter() - t2)
        for name in stage_names:
            stages[name].append(exp.timings.get(name, 0.0))
    out: dict = {"classify_only": _median_p90(classify), "explain": _median_p90(explain),
                 "explain_stages": {k: _median_p90(v) for k, v in stages.items()},
                 "target_class": first.target_class}
    out["ratio_explain_to_classify"] = out["explain"]["median_ms"] / out["classify_only"]["median_ms"]
    if not last:  # no baseline ran: compare off, or baseline_repeats 0
        return out
    out["deletion_auc_this_clip"] = {
        "explain": deletion_auc(engine, clip.frames, first.explained[0].masks, target),
        **{name: deletion_auc(engine, clip.frames, a.masks, target) for name, a in last.items()}}
    ref, cap = last["reference"], last["captum_feature_ablation"]
    out["reference"] = {**_median_p90(times["reference"]), "forwards": ref.forwards,
                        "clips_evaluated": ref.clips_evaluated}
    out["captum_feature_ablation"] = {
        **_median_p90(times["captum_feature_ablation"]), "forwards": cap.forwards,
        "clips_evaluated": cap.clips_evaluated, "segments": len(cap.scores),
        "perturbations_per_eval": baselines["captum_feature_ablation"].perturbations_per_eval}
    out["segment_ms"] = slic_timing(clip.frames, explainer.slic, clf.device)
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
    FeatureAblation on the explanation's own supervoxels, over correctly classified test videos; plus the two
    SLICs' agreement."""
    reference_slic = dataclasses.replace(explainer.slic, method="skimage", iterations=10)
    engine, bank = explainer.engine, explainer.bank
    ace = methods.build("ace", engine, bank=bank, slic=explainer.slic, removal=explainer.removal)
    ace_sk = methods.build("ace", engine, bank=bank, slic=reference_slic, removal=explainer.removal)
    captum = methods.build("captum_feature_ablation", engine, bank=bank, slic=explainer.slic)
    classes = [c for c in explainer.clf.class_names if (Path(data) / c).is_dir()]
    videos = [(explainer.clf.class_names.index(c), p) for c, ps in list_videos(data, classes).items()
              for p in ps[:limit]]
    auc: dict[str, list[float]] = {"explain": [], "explain_skimage_slic": [], "captum_feature_ablation": []}
    recall, ue_torch, ue_skimage = [], [], []
    for label, path in tqdm(videos, desc="deletion AUC", disable=not progress):
        clip = explainer.clips(read_file(path), Request())[0]
        _, logits = explainer.classify([clip])
        if int(logits[0].argmax()) != label:
            continue
        a = ace.attribute(clip, label)
        frames, sv = clip.frames, a.detail.supervoxels
        auc["explain"].append(deletion_auc(engine, frames, a.masks, label))
        a_sk = ace_sk.attribute(clip, label)
        auc["explain_skimage_slic"].append(deletion_auc(engine, frames, a_sk.masks, label))
        cap = captum.attribute(clip, label, regions=sv)  # segmented once, by the explanation itself
        auc["captum_feature_ablation"].append(deletion_auc(engine, frames, cap.masks, label))
        labels = labels_near(sv, explainer.slic.n_segments)
        ref_labels = labels_near(a_sk.detail.supervoxels, reference_slic.n_segments)
        recall.append(boundary_recall(ref_labels, labels))
        mp = mask_path(Path(path))
        if mp.exists():
            gt = clip_mask(np.load(mp, allow_pickle=False)["mask"], clip)
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
          data: str | Path | None = None, auc_videos: int = 10, progress: bool = True,
          video: bytes | None = None) -> dict:
    """Speed (1-3) and, with `compare`, faithfulness on `data` (a synthetic set is generated when none is given:
    `auc_videos` per class, fresh seed 101)."""
    out = {"machine": machine(explainer), "model": explainer.clf.name, "clip_shape": list(explainer.clf.clip_shape),
           "feature_mode": explainer.bank.feature_mode if explainer.bank else "clip groups",
           "removal": explainer.removal,
           "perturbed_forwards_bf16": explainer.bf16,
           "slic": explainer.slic.to_dict(), "repeats": repeats}
    out.update(speed(explainer, repeats, baseline_repeats, seed, compare, video=video))
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
