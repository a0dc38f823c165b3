"""Small versions of the planted-shortcut benchmark and the sanity checks, with direction assertions: a tiny
model trained where a flickering corner marks one class calls that class more often when the corner is
there; the explanation's top region and peak find the corner more often than a random ranking does; and on
the default model, removing the explanation's top concept changes the prediction far more often than
removing a random group of supervoxels of the same size. (Full-size figures: docs/FAITHFULNESS.md.)"""

from __future__ import annotations

import pytest

from ace3d.evaluation import sanity, shortcut
from ace3d.evaluation.methods import AceMethod, GradCamMethod, RandomRanking
from ace3d.jobs.synth import SynthConfig, generate
from ace3d.method.explainer import Explainer

CUE = "move_right"


@pytest.fixture(scope="module")
def cue_sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("cue")
    small = SynthConfig(size=64)
    generate(root / "train", per_class=10, seed=21, n_random=0, progress=False,
             cfg=SynthConfig(size=64, cue=CUE, cue_share=(1.0, 0.0)))
    generate(root / "with", per_class=3, seed=22, n_random=0, progress=False,
             cfg=SynthConfig(**{**small.__dict__, "cue": "all"}))
    generate(root / "without", per_class=3, seed=22, n_random=0, progress=False, cfg=small)
    return root


@pytest.fixture(scope="module")
def cue_model(cue_sets):
    from ace3d import models
    from ace3d.jobs.train import TrainConfig, train

    cfg = TrainConfig(clip_shape=(16, 32, 32), epochs=8, batch_size=8, seed=1, lr=1e-2,
                      builder={"width_factor": 0.5, "depth_factor": 0.5, "bottleneck_factor": 2.0,
                               "head_dim_out": 64, "stem_dim_in": 8, "dropout": 0.0})
    train(cue_sets / "train", cue_sets / "cue_model", cfg, progress=False)
    return models.load("demo:" + str(cue_sets / "cue_model.json"))


def test_the_cue_model_uses_the_cue_and_the_explanation_finds_it(cue_model, cue_sets):
    explainer = Explainer(cue_model, None)
    engine = explainer.engine
    methods = {"ace": AceMethod(engine), "grad_cam": GradCamMethod(engine), "random": RandomRanking(engine, seed=0)}
    r = shortcut.evaluate_shortcut(explainer.engine, methods, cue_sets / "with", cue_sets / "without", CUE,
                                   progress=False)
    assert r["videos"] == 12
    assert r["called_cue_class_with_cue"] >= r["called_cue_class_without_cue"] + 0.3  # the corner decides
    assert r["relying"] >= 4
    ace, chance = r["methods"]["ace"], r["methods"]["random"]
    assert max(ace["detection_top"], ace["detection_peak"]) > max(chance["detection_top"], chance["detection_peak"])


def test_random_concepts_score_worse_than_the_explanations(tmp_path):
    from ace3d import models
    from ace3d.method import bank

    data = generate(tmp_path / "eval", per_class=2, seed=23, n_random=0, progress=False)
    clf = models.load("demo")
    explainer = Explainer(clf, bank.load(bank.path_for("demo", None)))
    clips = sanity.sample_clips(clf, data, per_class=2)
    r = sanity.random_concepts(AceMethod(explainer.engine, bank=explainer.bank), clips, progress=False)
    assert r["clips"] == len(clips)
    # 0.3, not more: the default model trained on three looks (2026-12-04) keeps its call on more clips when one
    # concept of the actor goes (top-1 deletion 0.84 on the README's EVAL, 0.91 before); here 0.50 against 0.125
    assert r["top_concept"]["flip_rate"] >= r["random_same_size"]["flip_rate"] + 0.3
    assert r["top_concept"]["probability_drop"] > r["random_same_size"]["probability_drop"] + 0.3
