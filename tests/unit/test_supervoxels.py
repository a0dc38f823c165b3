import numpy as np
import torch

from ace3d.method.supervoxels import (
    SlicParams,
    _smooth,
    boundary_recall,
    deduplicate,
    rgb_to_lab,
    segment,
    torch_slic,
    undersegmentation_error,
)


def _clip():
    rng = np.random.default_rng(0)
    frames = np.full((8, 32, 32, 3), 60, np.uint8)
    frames[:, 8:20, 8:20] = (220, 40, 40)  # a red block through all frames
    return (frames + rng.integers(0, 6, frames.shape)).astype(np.uint8)


def test_segment_multires_and_masks():
    sv = segment(_clip(), SlicParams(n_segments=(4, 12), method="skimage", downscale=1))
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
    sv = segment(_clip(), SlicParams(n_segments=(4,), method="skimage", downscale=1))
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


def test_torch_slic_finds_the_block_like_skimage():
    sv = segment(_clip(), SlicParams(n_segments=(4, 12), method="torch", downscale=1))
    assert len(sv.labels) == 2 and sv.shape == (8, 32, 32)
    block = np.zeros((8, 32, 32), bool)
    block[:, 8:20, 8:20] = True
    best = max((m & block).sum() / (m | block).sum() for m in sv.masks())
    assert best > 0.6
    ref = segment(_clip(), SlicParams(n_segments=(12,), method="skimage", downscale=1)).labels[0]
    assert boundary_recall(ref, sv.labels[1]) > 0.5
    assert undersegmentation_error(sv.labels[1], block) < 0.1


def test_torch_slic_labels_are_consecutive_and_local():
    rng = np.random.default_rng(1)
    img = torch.from_numpy(rng.random((6, 20, 28, 3), dtype=np.float32))
    lab = torch_slic(img, 30, compactness=20, sigma=1, iterations=4)
    assert lab.shape == (6, 20, 28)
    assert torch.equal(torch.unique(lab), torch.arange(int(lab.max()) + 1))
    # a SLIC label never spreads beyond its 3x3x3 neighbourhood of grid blocks
    for v in torch.unique(lab):
        idx = (lab == v).nonzero()
        assert (idx.max(0).values - idx.min(0).values < torch.tensor([6, 20, 28])).all()


def test_lab_and_smoothing_match_the_references():
    from scipy.ndimage import gaussian_filter
    from skimage.color import rgb2lab

    x = torch.rand(4, 10, 12, 3)
    assert np.allclose(rgb_to_lab(x).numpy(), rgb2lab(x.numpy()), atol=1e-3)
    ours = _smooth(x, 1.0).numpy()
    ref = np.stack([gaussian_filter(x[..., c].numpy(), 1.0, mode="nearest", truncate=3.0) for c in range(3)], -1)
    assert np.abs(ours - ref).max() < 1e-5


def test_histogram_weights_and_concept_masks_equal_the_dense_ones():
    sv = segment(_clip(), SlicParams(n_segments=(4, 12), method="torch", downscale=1))
    dense = torch.nn.functional.adaptive_avg_pool3d(torch.from_numpy(sv.masks()).float(), (4, 8, 8))
    assert torch.allclose(sv.weights((4, 8, 8)), dense, atol=1e-6)
    groups = [np.array([0, len(sv) - 1]), np.arange(1, len(sv), 2)]
    masks = sv.masks()
    want = np.stack([masks[g].any(0) for g in groups])
    assert np.array_equal(sv.concept_masks(groups), want)


def test_boundary_recall_and_undersegmentation_error():
    a = np.zeros((2, 8, 8), np.int32)
    a[:, :, 4:] = 1
    assert boundary_recall(a, a) == 1.0
    assert boundary_recall(a, np.zeros_like(a)) == 0.0
    assert undersegmentation_error(a, a == 1) == 0.0
    # one label for everything straddles a half-clip object: error = the smaller half
    assert undersegmentation_error(np.zeros_like(a), a == 1) == 0.5


def test_banks_from_before_the_method_field_read_as_scikit_image():
    old = {"n_segments": [15, 50, 80], "compactness": 20.0, "sigma": 1.0, "jaccard": 0.5, "downscale": 1,
           "min_voxels": 8}
    p = SlicParams.from_dict(old)
    assert p.method == "skimage" and p.iterations == 10 and p.n_segments == (15, 50, 80)
    assert SlicParams.from_dict(SlicParams().to_dict()) == SlicParams()
