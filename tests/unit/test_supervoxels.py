import numpy as np

from ace3d.supervoxels import SlicParams, deduplicate, segment


def _clip():
    rng = np.random.default_rng(0)
    frames = np.full((8, 32, 32, 3), 60, np.uint8)
    frames[:, 8:20, 8:20] = (220, 40, 40)  # a red block through all frames
    return (frames + rng.integers(0, 6, frames.shape)).astype(np.uint8)


def test_segment_multires_and_masks():
    sv = segment(_clip(), SlicParams(n_segments=(4, 12)))
    assert len(sv.labels) == 2 and sv.shape == (8, 32, 32)
    assert len(sv) >= 2
    masks = sv.masks()
    assert masks.shape == (len(sv), 8, 32, 32) and masks.any(axis=(1, 2, 3)).all()
    # the red block is (almost) one supervoxel at some resolution
    block = np.zeros((8, 32, 32), bool)
    block[:, 8:20, 8:20] = True
    best = max((m & block).sum() / (m | block).sum() for m in masks)
    assert best > 0.6


def test_weights_pool_to_grid_and_sum_to_coverage():
    sv = segment(_clip(), SlicParams(n_segments=(4,)))
    w = sv.weights((2, 4, 4))
    assert w.shape == (len(sv), 2, 4, 4)
    # every voxel belongs to exactly one supervoxel of a single resolution: shares sum to 1 per cell
    assert np.allclose(w.sum(0).numpy(), 1.0, atol=1e-5)


def test_deduplicate_drops_identical_resolutions():
    lab = np.zeros((2, 4, 4), np.int32)
    lab[:, :, 2:] = 1
    kept = deduplicate([lab, lab.copy()], threshold=0.5)
    assert kept == [(0, 0), (0, 1)]
    other = np.zeros_like(lab)
    other[:, 2:, :] = 1  # halves the other way: Jaccard 1/3 with each
    assert len(deduplicate([lab, other], threshold=0.5)) == 4


def test_downscaled_segmentation_keeps_shape():
    sv = segment(_clip(), SlicParams(n_segments=(6,), downscale=2))
    assert sv.shape == (8, 32, 32)
