"""The synthetic looks: `plain` is what the default model and the README's data sets were made with (unchanged
to the byte), `varied` and `shifted` share no shape and no background, and every look moves its actor the same
way, with its mask."""

import numpy as np
import pytest

from ace3d.jobs import looks
from ace3d.jobs.synth import DIRECTIONS, SynthConfig, render


def test_the_held_out_look_shares_nothing_with_the_training_look():
    varied, shifted = looks.LOOKS["varied"], looks.LOOKS["shifted"]
    assert not set(varied.shapes) & set(shifted.shapes)
    assert not set(varied.backgrounds) & set(shifted.backgrounds)
    assert varied.distractor_motion != shifted.distractor_motion


@pytest.mark.parametrize("look", ["varied", "shifted"])
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
    for kind in looks.LOOKS["varied"].shapes + looks.LOOKS["shifted"].shapes:
        solid = looks.shape_mask(kind, 50, 50, 16, 112)
        band = looks.shape_mask(kind, 50, 50, 16, 112, outline=True)
        assert band.any() and (band & ~solid).sum() == 0 and band.sum() < solid.sum()


def test_distractors_stay_where_they_are():
    for motion in ("sway", "circle"):
        pos = np.array([looks.distractor_offset(motion, 0.3, 1.0, 3.0, i) for i in range(16)])
        assert np.abs(pos).max() <= 3.0 + 1e-6 and np.abs(pos.mean(0)).max() < 1.5
