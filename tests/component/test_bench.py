"""bench/gpu.sh's CPU path at a tiny size (so the GPU script cannot rot) and the benchmark's own pieces."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from ace3d.evaluation import bench
from ace3d.method.explainer import Explainer

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_script_tiny_cpu_path(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path / "gpu.json")}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu.sh"), "--tiny"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads((tmp_path / "gpu.json").read_text())
    assert res["weights"] == "random" and res["clip_shape"] == [4, 32, 32]
    assert res["machine"]["device"] == "cpu"
    assert res["concepts_in_bank"] > 0
    # the explained class has concepts, so the importance stage really ran
    assert res["explain_stages"]["importance"]["median_ms"] > 0
    assert res["explain"]["median_ms"] <= res["explain"]["p90_ms"]
    t = res["throughput"]
    assert t["requests"] == 6 and abs(t["explanations_per_s"] - 6 / t["seconds"]) < 1e-6


def test_speed_and_faithfulness_report_every_method(tiny_model, tiny_bank, synth_dir):
    ex = Explainer(tiny_model, tiny_bank)
    res = bench.speed(ex, repeats=3, baseline_repeats=2)
    for key in ("classify_only", "explain", "reference", "captum_feature_ablation"):
        assert res[key]["median_ms"] > 0
    assert res["explain"]["runs"] == 3  # the baselines' runs sit between the explanation's rounds
    assert res["reference"]["runs"] == res["captum_feature_ablation"]["runs"] == 2
    assert bench.speed(ex, repeats=1, baseline_repeats=3)["reference"]["runs"] == 3  # more than rounds: all run
    assert res["ratio_explain_to_classify"] == res["explain"]["median_ms"] / res["classify_only"]["median_ms"]
    # the reference runs one forward per supervoxel and per concept: far more than captum's batched calls
    assert res["reference"]["forwards"] > res["captum_feature_ablation"]["forwards"]
    assert len(res["segment_ms"]) == 3 and all(v > 0 for v in res["segment_ms"].values())
    f = bench.faithfulness(ex, synth_dir, limit=1, progress=False)
    assert f["videos"] >= 1
    for v in f["deletion_auc_mean"].values():
        assert 0.0 <= v <= 1.0
    agree = f["slic_agreement"]
    assert 0.0 <= agree["boundary_recall_of_skimage_boundaries"] <= 1.0
    assert np.isfinite(agree["undersegmentation_error_vs_actor"]["skimage"])
