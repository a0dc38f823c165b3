"""The real-set comparison's bookkeeping: clips one per video in turn, intervals over videos, common clips."""

import json

import numpy as np
import pytest

from ace3d.evaluation import real_compare as rc


def test_heldout_clips_take_one_per_video_in_turn(tmp_path):
    files = [{"file": f"heldout/clips/{v}_{k}.mp4", "video": v, "part": "heldout", "classes": []}
             for v, n in (("a", 3), ("b", 1), ("c", 2)) for k in range(n)]
    files.append({"file": "build/x/a_0.mp4", "video": "a", "part": "build", "classes": []})
    (tmp_path / "index.json").write_text(json.dumps({"files": files}))
    got = [c["file"].split("/")[-1] for c in rc.heldout_clips(tmp_path, 2)]
    assert got == ["a_0.mp4", "b_0.mp4", "c_0.mp4", "a_1.mp4", "c_1.mp4"]


def test_bootstrap_interval_is_over_videos():
    same = rc.bootstrap({"a": [1.0, 1.0], "b": [1.0]})
    assert same == (1.0, 1.0, 1.0)
    # one video far off: its weight in resamples varies, so the interval is wide and holds the mean
    mean, lo, hi = rc.bootstrap({"a": [0.0] * 5, "b": [0.0] * 5, "c": [1.0] * 5})
    assert lo <= mean <= hi and hi - lo > 0.3 and np.isclose(mean, 1 / 3)


def test_summary_uses_only_clips_every_method_has():
    def row(clip, video, method, d):
        return {"clip": clip, "video": video, "method": method, "deletion": d, "deletion_blur": d, "insertion": d,
                "drop_top": d, "drop_random": None, "regions": 1, "seconds": 1.0}

    rows = [row("c1", "a", "m1", 0.1), row("c1", "a", "m2", 0.2), row("c2", "b", "m1", 0.9)]
    s = rc.summarise(rows, ["m1", "m2"])
    assert s["clips"] == 1 and s["videos"] == 1
    assert s["methods"]["m1"]["deletion"][0] == 0.1 and s["methods"]["m2"]["drop_random"] is None
    assert "n/a" in rc.table(s)


def _realset(tmp_path, synth_dir, n=2, classes=()):
    """A real-set index over a few synthetic videos, each its own video with one held-out clip (the k-th
    labelled `classes[k]` where given)."""
    files = []
    for k, f in enumerate(sorted((synth_dir / "move_left").glob("*.mp4"))[:n]):
        (tmp_path / "heldout").mkdir(parents=True, exist_ok=True)
        (tmp_path / "heldout" / f.name).write_bytes(f.read_bytes())
        labels = [classes[k]] if k < len(classes) and classes[k] else []
        files.append({"file": f"heldout/{f.name}", "video": f"v{k}", "part": "heldout", "classes": labels})
    (tmp_path / "index.json").write_text(json.dumps({"files": files}))
    return tmp_path


def test_run_writes_every_row_once_and_resumes(tmp_path, synth_dir, tiny_model, tiny_bank):
    from ace3d.method.explainer import Explainer

    realset = _realset(tmp_path / "set", synth_dir)
    explainers = {"none": Explainer(tiny_model, None), "bank": Explainer(tiny_model, tiny_bank)}
    names = ["ace_bank", "ace", "ace_bank_heat", "random"]
    rows = rc.run(explainers, realset, tmp_path / "rows.jsonl", names, max_per_video=1)
    assert sorted((r["clip"], r["method"]) for r in rows) == sorted(
        (f"heldout/{p.name}", m) for p in sorted((realset / "heldout").iterdir()) for m in names)
    for r in rows:
        assert 0 <= r["deletion"] <= 1 and 0 <= r["insertion"] <= 1 and r["curve_points"] == rc.CURVE_POINTS
    by = {(r["clip"], r["method"]): r for r in rows}
    for clip in {r["clip"] for r in rows}:  # the pieces come from the same explanation: no forward added
        assert by[clip, "ace_bank_heat"]["forwards"] == by[clip, "ace_bank"]["forwards"]
        assert by[clip, "ace_bank_heat"]["seconds"] >= by[clip, "ace_bank"]["seconds"]
        assert by[clip, "ace_bank_heat"]["regions"] >= by[clip, "ace_bank"]["regions"]
    clips = explainers["none"].engine.clips
    again = rc.run(explainers, realset, tmp_path / "rows.jsonl", names, max_per_video=1)
    assert again == rows and explainers["none"].engine.clips == clips  # nothing left to compute


def test_a_class_without_bank_concepts_is_one_explanation(tmp_path, synth_dir, tiny_model):
    from ace3d.method.explainer import Explainer

    realset = _realset(tmp_path / "set", synth_dir, n=1)
    none = Explainer(tiny_model, None)
    rows = rc.run({"none": none, "bank": none}, realset, tmp_path / "rows.jsonl", ["ace_bank", "ace"], 1)
    a, b = sorted(rows, key=lambda r: r["method"])
    assert {k: v for k, v in a.items() if k != "method"} == {k: v for k, v in b.items() if k != "method"}


def test_bank_class_target_explains_the_labelled_class_the_bank_has(tmp_path, synth_dir, tiny_model, tiny_bank):
    from ace3d.method.explainer import Explainer

    covered = [n for i, n in enumerate(tiny_model.class_names) if len(tiny_bank.concepts_of(i))]
    uncovered = [n for i, n in enumerate(tiny_model.class_names) if not len(tiny_bank.concepts_of(i))]
    # the first clip's label is a class the bank covers (not necessarily the model's call), the second's is not
    realset = _realset(tmp_path / "set", synth_dir, n=3, classes=[covered[-1], (uncovered or [None])[0]])
    explainers = {"none": Explainer(tiny_model, None), "bank": Explainer(tiny_model, tiny_bank)}
    rows = rc.run(explainers, realset, tmp_path / "rows.jsonl", ["ace_bank", "ace"], 1, target="bank-class")
    assert {r["video"] for r in rows} == {"v0"} and {r["target"] for r in rows} == {covered[-1]}
    by = {r["method"]: r for r in rows}
    assert by["ace_bank"]["source"] == "bank" and by["ace"]["source"] != "bank"
    with pytest.raises(ValueError, match="needs a bank"):
        rc.run({"none": explainers["none"], "bank": explainers["none"]}, realset, tmp_path / "r2.jsonl", ["ace"], 1,
               target="bank-class")


def test_explanation_variants_by_name():
    assert rc.ace_variant("ace") == (False, "concepts", "input")
    assert rc.ace_variant("ace_bank_pieces_ranked") == (True, "removal", "ranked")
    assert rc.ace_variant("ace_core_ranked") == (False, "core", "ranked")
    with pytest.raises(ValueError, match="unknown explanation variant 'ace_bank_nope'"):
        rc.ace_variant("ace_bank_nope")


def test_ranked_removal_ranks_the_same_concepts(tmp_path, synth_dir, tiny_model):
    from ace3d.method.explainer import Explainer

    realset = _realset(tmp_path / "set", synth_dir, n=1)
    none = Explainer(tiny_model, None)
    rows = rc.run({"none": none, "bank": none}, realset, tmp_path / "rows.jsonl", ["ace", "ace_ranked"], 1)
    by = {r["method"]: r for r in rows}
    # ranked at the concept layer: one forward for all concepts instead of one clip each, the same concepts
    assert by["ace_ranked"]["regions"] == by["ace"]["regions"] > 0
    assert by["ace_ranked"]["forwards"] <= by["ace"]["forwards"]
    assert 0 <= by["ace_ranked"]["deletion"] <= 1
