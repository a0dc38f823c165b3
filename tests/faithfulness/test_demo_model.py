"""Faithfulness of the committed default model and bank against the synthetic ground truth, at a small
size (the full-size figures come from `ace3d evaluate`; see README). The direction must hold: removing the
top concept changes predictions more often than removing a random one, and the explanation points at
the actor."""

import pytest

from ace3d import models
from ace3d.evaluation.faithfulness import evaluate
from ace3d.evaluation.methods import AceMethod
from ace3d.jobs.synth import generate
from ace3d.method import bank
from ace3d.method.explainer import Explainer


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    data = generate(tmp_path_factory.mktemp("fresh"), per_class=4, seed=1234, n_random=0, progress=False)
    clf = models.load("demo")
    ex = Explainer(clf, bank.load(models.ASSETS / "demo_bank.npz"))
    return evaluate(ex.engine, AceMethod(ex.engine, bank=ex.bank), data, progress=False)


def test_model_is_accurate(report):
    assert report["accuracy"] >= 0.8


def test_top_concept_deletion_beats_random(report):
    d = report["deletion"]
    assert d["top1"] > d["random1"]
    assert d["top1"] >= d["bottom1"]
    assert d["top3"] >= d["top1"] - 1e-9


def test_points_at_the_actor(report):
    assert report["pointing_game"] >= 0.6
    assert report["iou_top_concept_median"] > 0.1
