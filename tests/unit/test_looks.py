"""The synthetic looks: `plain` is what the default model and the README's data sets were made with (unchanged
to the byte), the training looks (`varied`, `random`) share no shape, background or distractor motion with the
held-out `shifted`, and every look moves its actor the same way, with its mask."""

import numpy as np
import pytest

from ace3d.jobs import looks
from ace3d.jobs.synth import DIRECTIONS, SynthConfig, render


@pytest.mark.parametrize("held_out", looks.HELD_OUT)
@pytest.mark.parametrize("training", ["varied", "random"])
def test_the_held_out_looks_share_nothing_with_the_training_looks(training, held_out):
    train, held = looks.LOOKS[training], looks.LOOKS[held_out]
    assert not set(train.shapes) & set(held.shapes)
    assert not set(train.backgrounds) & set(held.backgrounds)
    assert not set(train.distractor_motions) & set(held.distractor_motions)
    assert set(looks.LOOKS) - set(looks.HELD_OUT) == {"varied", "random"}


def test_the_random_look_draws_each_clips_own_shapes():
    profiles = [looks.shape_params(np.random.default_rng(k), "radial") for k in range(4)]
    masks = [looks.shape_mask("radial", 56, 56, 16, 112, params=p) for p in profiles]
    assert all(m.any() for m in masks)
    assert len({m.tobytes() for m in masks}) == 4  # four clips, four shapes
    assert looks.shape_params(np.random.default_rng(0), "disk") is None  # other kinds draw nothing


@pytest.mark.parametrize("look", ["varied", "shifted", "random", "far"])
def test_the_actor_moves_in_the_class_direction(look):
    for k in range(6):
        frames, mask = render(np.random.default_rng([1, k]), DIRECTIONS["move_right"], SynthConfig(look=look))
        assert frames.shape == (16, 112, 112, 3) and frames.dtype == np.uint8 and mask.shape == (16, 112, 112)
        visible = [t for t in range(16) if mask[t].any()]
        assert visible and visible[0] == 0
        xs = [np.flatnonzero(mask[t].any(0)).mean() for t in visible]
        assert xs[-1] > xs[0]  # moving right
    a, _ = render(np.random.default_rng([1, 0]), DIRECTIONS["move_up"], SynthConfig(look=look))
    b, _ = render(np.random.default_rng([1, 0]), DIRECTIONS["move_up"], SynthConfig(look=look))
    assert np.array_equal(a, b)


def test_outlines_are_thin_bands_of_their_shape():
    for kind in sorted({k for look in looks.LOOKS.values() for k in look.shapes}):
        params = looks.shape_params(np.random.default_rng(3), kind)
        solid = looks.shape_mask(kind, 50, 50, 16, 112, params=params)
        band = looks.shape_mask(kind, 50, 50, 16, 112, outline=True, params=params)
        assert band.any() and (band & ~solid).sum() == 0 and band.sum() < solid.sum()


def test_distractors_stay_where_they_are():
    for motion in ("sway", "circle", "wobble", "pulse", "blink"):
        params = np.array([7.0, 11.0, 0.5, 2.0]) if motion == "wobble" else None
        pos = np.array([looks.distractor_offset(motion, 0.3, 1.0, 3.0, i, params) for i in range(16)])
        assert np.abs(pos).max() <= 3.0 + 1e-6 and np.abs(pos.mean(0)).max() < 1.5
        scale = [looks.distractor_scale(motion, 0.3, i) for i in range(16)]
        if motion == "blink":  # there half the time, never resized
            assert sorted(set(scale)) == [0.0, 1.0] and scale.count(0.0) == 8
        else:
            assert min(scale) >= 0.7 and max(scale) <= 1.3 and (motion == "pulse") == (max(scale) > 1.0)
    with pytest.raises(ValueError, match="unknown distractor motion"):
        looks.distractor_offset("travel", 0.0, 0.0, 3.0, 0)
