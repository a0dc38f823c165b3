import numpy as np
import torch

from ace3d.method.removal import fill_removed, remove


def test_remove_fills_from_other_frames():
    frames = np.zeros((4, 6, 6, 3), np.uint8)
    frames[:, :, :] = 50
    frames[1, 2:4, 2:4] = 250  # a thing present in frame 1 only
    mask = np.zeros((1, 4, 6, 6), bool)
    mask[0, 1, 2:4, 2:4] = True
    out = remove(frames, torch.from_numpy(mask))
    assert out.shape == (1, 4, 6, 6, 3)
    assert torch.allclose(out[0, 1, 2, 2], torch.tensor([50.0, 50.0, 50.0]))  # background restored
    everywhere = np.ones((1, 4, 6, 6), bool)
    everywhere[0, :, 0, 0] = False  # only one pixel survives: its colour fills the rest
    out = remove(frames, torch.from_numpy(everywhere), rim=0)
    assert torch.allclose(out[0, 2, 3, 3], torch.tensor([50.0] * 3))


def test_remove_takes_a_one_pixel_rim_within_frames():
    frames = np.full((3, 7, 7, 3), 50, np.uint8)
    frames[1, 2:5, 2:5] = 250  # a blurred-edged thing: its rim pixels are half-way colours
    frames[1, 1, 2:5] = 150
    mask = np.zeros((1, 3, 7, 7), bool)
    mask[0, 1, 2:5, 2:5] = True  # the exact mask misses the half-way rim
    out = remove(frames, torch.from_numpy(mask))
    assert torch.allclose(out[0, 1, 1, 3], torch.tensor([50.0] * 3))  # the rim went with it
    assert torch.equal(out[0, 0], torch.from_numpy(frames[0]).float())  # other frames untouched
    assert torch.allclose(remove(frames, torch.from_numpy(mask), rim=0)[0, 1, 1, 3], torch.tensor([150.0] * 3))


def test_removal_commutes_with_normalisation():
    """The explainer removes in the model's units (skipping a pass over K clips): the fill is a mean, so that
    equals normalising the clip removed in pixels."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    masks = torch.from_numpy(rng.random((3, 5, 8, 8)) > 0.7)
    mean, std = torch.tensor([120.0, 100.0, 90.0]), torch.tensor([60.0, 55.0, 50.0])
    in_pixels = (remove(frames, masks) - mean) / std
    in_units = fill_removed((torch.from_numpy(frames).float() - mean) / std, masks)
    assert torch.allclose(in_units, in_pixels, atol=1e-5)
