"""Sanity checks (evaluation/sanity.py) on the tiny model and bank: randomisation touches exactly the stages
named, the cascade changes a model-dependent explanation, bank matching and random twins behave."""

import numpy as np
import pytest
import torch

from ace3d.evaluation import sanity
from ace3d.evaluation.methods import GradCamMethod
from ace3d.method.supervoxels import SlicParams, segment
from ace3d.models.engine import ForwardEngine


def test_randomised_resets_only_the_named_stages(tiny_model):
    names = sanity.parametric_stages(tiny_model)
    assert names and names[0] == [n for n, _ in tiny_model.stages][-1]  # the cascade starts at the output
    out = sanity.randomised(tiny_model, names[:1], seed=3)
    before = {n: [p.detach().clone() for p in s.parameters()] for n, s in tiny_model.stages if n in names}
    after = {n: list(s.parameters()) for n, s in out.stages if n in names}
    for n in names:
        same = all(torch.equal(a, b) for a, b in zip(before[n], after[n], strict=True))
        assert same == (n not in names[:1]), n
    assert all(torch.equal(a, b) for a, b in zip(before[names[0]], dict(tiny_model.stages)[names[0]].parameters(),
                                                 strict=True))  # the original is untouched


def test_cascade_changes_a_model_dependent_explanation(tiny_model, synth_dir):
    clips = sanity.sample_clips(tiny_model, synth_dir, per_class=1)
    steps = sanity.cascade(ForwardEngine(tiny_model), GradCamMethod, clips[:2], progress=False)
    assert [s["randomised"][-1] for s in steps] == sanity.parametric_stages(tiny_model)
    assert steps[-1]["spearman_mean"] < 0.9  # every stage randomised: the map is another one


def test_rank_correlation():
    a = np.arange(100.0).reshape(4, 25)
    assert sanity.rank_correlation(a, a ** 2) == pytest.approx(1.0)
    assert sanity.rank_correlation(a, -a) == pytest.approx(-1.0)
    assert sanity.rank_correlation(a, np.zeros_like(a)) == 0.0


def test_bank_matches_itself_and_not_a_shuffled_copy(tiny_bank):
    same = sanity.match_banks(tiny_bank, tiny_bank)
    assert same["matched"] == same["pairs"] == len(tiny_bank.class_index) and same["similarity_median"] > 0.999
    rng = np.random.default_rng(0)
    other = sanity.copy.deepcopy(tiny_bank)
    other.centroid = rng.normal(size=other.centroid.shape).astype(np.float32)
    assert sanity.match_banks(tiny_bank, other)["matched"] < same["matched"]


def test_random_twin_has_about_the_size_asked(tiny_model, synth_dir):
    clip = sanity.sample_clips(tiny_model, synth_dir, per_class=1)[0]
    sv = segment(clip.frames, SlicParams())
    rng = np.random.default_rng(1)
    size = clip.frames[..., 0].size // 5
    twins = [sanity.random_twin(sv, size, rng) for _ in range(3)]
    assert all(size <= t.sum() < size * 1.5 for t in twins)
    assert not np.array_equal(twins[0], twins[1])
