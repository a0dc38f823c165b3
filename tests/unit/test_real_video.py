"""Faithfulness without ground truth (`ace3d evaluate --videos`) on the tiny model and synthetic videos: every
clip gets the two drops and both curves, and the random concept is of similar size."""

import numpy as np

from ace3d.evaluation.real_video import evaluate_videos, plot, similar_size
from ace3d.models.engine import ForwardEngine


def test_similar_size_picks_within_a_factor_two():
    rng = np.random.default_rng(0)
    sizes = np.array([100.0, 10.0, 60.0, 400.0, 150.0])
    picks = {similar_size(sizes, rng) for _ in range(50)}
    assert picks == {2, 4}
    assert similar_size(np.array([100.0, 10.0, 1000.0]), rng) == 1  # none close: the nearest in log size
    assert similar_size(np.array([5.0]), rng) is None


def test_evaluate_videos_reports_every_clip(tiny_model, tiny_bank, synth_dir, tmp_path):
    videos = sorted((synth_dir / "move_up").glob("*.mp4"))[:2]
    res = evaluate_videos(ForwardEngine(tiny_model), videos, bank=tiny_bank, max_clips=1, progress=False)
    assert res["clips"] == len(res["per_clip"]) == 2
    for row in res["per_clip"]:
        assert 0 <= row["probability"] <= 1 and row["drop_top"] <= row["probability"] + 1e-6
        assert 0 <= row["deletion_auc"] <= 1 and 0 <= row["insertion_auc"] <= 1
    assert len(res["curves"]["deletion_mean"]) == len(res["curves"]["x"])
    png = plot(res, tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
