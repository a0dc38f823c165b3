import math

import numpy as np
import pytest
import torch

from ace3d.evaluation.methods import CaptumFeatureAblation, ReferencePipeline
from ace3d.evaluation.metrics import deletion_auc, deletion_curve
from ace3d.method.features import clip_tensor
from ace3d.method.removal import remove
from ace3d.method.supervoxels import PAPER, SlicParams, segment
from ace3d.method.video import Clip, make_clips, read_file
from ace3d.models.engine import ForwardEngine, model_input


@pytest.fixture(scope="module")
def frames(tiny_model, synth_dir):
    video = read_file(sorted((synth_dir / "move_left").glob("*.mp4"))[0])
    return make_clips(video, tiny_model.clip_shape)[0].frames


@pytest.fixture
def trunk_calls(tiny_model, monkeypatch):
    """Counts trunk calls on the model itself: an independent check of the methods' own counting."""
    calls = {"forwards": 0, "clips": 0}
    real = tiny_model.trunk

    def counted(x):
        calls["forwards"] += 1
        calls["clips"] += int(x.shape[0])
        return real(x)

    monkeypatch.setattr(tiny_model, "trunk", counted)
    return calls


def _clip(frames) -> Clip:
    return Clip(frames=frames, frame_indices=list(range(len(frames))), region=(0, 0, frames.shape[2], frames.shape[1]))


def _halves(frames) -> np.ndarray:
    """Two masks: the top and the bottom half of every frame."""
    t, h, w = frames.shape[:3]
    masks = np.zeros((2, t, h, w), bool)
    masks[0, :, : h // 2] = True
    masks[1, :, h // 2:] = True
    return masks


def _prob(clf, batch, target):
    with torch.inference_mode():
        return clf.logits(batch).softmax(1)[:, target]


def test_reference_pipeline(tiny_model, tiny_bank, frames, trunk_calls):
    target = int(tiny_bank.class_index[0])  # a class the tiny bank has concepts for
    r = ReferencePipeline(ForwardEngine(tiny_model), bank=tiny_bank).attribute(_clip(frames), target)
    n_sv = len(segment(frames, PAPER))
    k = len(r.masks)
    assert 1 <= k <= len(tiny_bank.concepts_of(target))
    assert r.masks.dtype == bool and r.masks.shape == (k, *frames.shape[:3])
    assert r.masks.reshape(k, -1).any(1).all()
    assert list(r.scores) == sorted(r.scores, reverse=True)
    assert set(r.ids) <= set(tiny_bank.concepts_of(target).tolist())
    # unchanged clip + one unbatched forward per supervoxel + one per concept present
    assert r.forwards == r.clips_evaluated == 1 + n_sv + k
    assert trunk_calls == {"forwards": r.forwards, "clips": r.clips_evaluated}
    assert r.seconds > 0
    # the top score is the target-logit drop when that concept alone is removed
    x = model_input(tiny_model, remove(frames, torch.from_numpy(r.masks[:1])))
    with torch.inference_mode():
        drop = tiny_model.logits(clip_tensor(tiny_model, frames))[0, target] - tiny_model.logits(x)[0, target]
    assert float(drop) == pytest.approx(r.scores[0], abs=1e-4)


@pytest.mark.parametrize("per_eval", [1, 16])
def test_captum_ablation(tiny_model, frames, trunk_calls, per_eval):
    slic = SlicParams(n_segments=(15,), method="skimage")
    regions = segment(frames, slic)
    labels = regions.labels[0]
    n = len(np.unique(labels))
    target = 1
    r = CaptumFeatureAblation(ForwardEngine(tiny_model), slic=slic, perturbations_per_eval=per_eval).attribute(
        _clip(frames), target, regions=regions)
    assert len(r.masks) == len(r.scores) == n and sorted(r.ids) == sorted(np.unique(labels).tolist())
    assert list(r.scores) == sorted(r.scores, reverse=True)
    assert np.array_equal(r.masks.sum(0), np.ones(labels.shape, int))  # the segments tile the clip
    assert r.forwards == 1 + math.ceil(n / per_eval)
    assert r.clips_evaluated == 1 + n
    assert trunk_calls == {"forwards": r.forwards, "clips": r.clips_evaluated}
    # captum's attribution equals the logit drop of replacing the segment with the temporal mean
    x = clip_tensor(tiny_model, frames)
    base = x.mean(dim=2, keepdim=True).expand_as(x)
    with torch.inference_mode():
        full = tiny_model.logits(x)[0, target]
        for j in (0, n - 1):
            inside = torch.from_numpy(r.masks[j])[None, None]
            drop = full - tiny_model.logits(torch.where(inside, base, x))[0, target]
            assert float(drop) == pytest.approx(r.scores[j], abs=1e-4)


def test_deletion_curve(tiny_model, frames):
    t, h, w = frames.shape[:3]
    target = 2
    masks = np.zeros((3, t, h, w), bool)
    masks[0, :, : h // 2] = True
    masks[1, :, h // 2:, : w // 2] = True
    masks[2, :, : h // 4] = True  # already removed: x stays put
    x, y = deletion_curve(ForwardEngine(tiny_model, batch_size=2), frames, masks, target)
    assert x.shape == y.shape == (5,)
    assert np.allclose(x, [0, 0.5, 0.75, 0.75, 1.0])
    assert np.all(np.diff(x) >= 0) and x[0] == 0 and x[-1] == 1
    p0 = float(_prob(tiny_model, clip_tensor(tiny_model, frames), target)[0])
    assert y[0] == pytest.approx(p0, abs=1e-5)
    assert y[2] == pytest.approx(y[3], abs=1e-6)  # the same union gives the same probability
    auc = deletion_auc(ForwardEngine(tiny_model), frames, masks, target)
    assert 0 <= auc <= 1 and auc == pytest.approx(np.trapezoid(y, x), abs=1e-6)


def test_deletion_whole_clip_first(tiny_model, frames):
    t, h, w = frames.shape[:3]
    target = 0
    everything = np.ones((1, t, h, w), bool)
    x, y = deletion_curve(ForwardEngine(tiny_model), frames, everything, target)
    assert np.array_equal(x, [0.0, 1.0])  # covered already: no extra point
    p1 = float(_prob(tiny_model, model_input(tiny_model, remove(frames, torch.from_numpy(everything))),
                     target)[0])
    assert y[1] == pytest.approx(p1, abs=1e-5)
    engine = ForwardEngine(tiny_model)
    assert deletion_auc(engine, frames, everything, target) == pytest.approx((y[0] + p1) / 2, abs=1e-6)
    x0, y0 = deletion_curve(engine, frames, np.zeros((0, t, h, w), bool), target)
    assert np.array_equal(x0, [0.0, 1.0]) and np.allclose(y0, y, atol=1e-5)  # nothing ranked: jump to all


def test_insertion_curve_puts_regions_back(tiny_model, frames):
    from ace3d.evaluation.metrics import insertion_curve

    t, h, w = frames.shape[:3]
    target = 1
    masks = _halves(frames)
    x, y = insertion_curve(ForwardEngine(tiny_model), frames, masks, target)
    assert np.allclose(x, [0.0, 0.5, 1.0])
    empty = float(_prob(tiny_model, model_input(tiny_model, remove(frames, torch.ones((1, t, h, w), dtype=torch.bool))),
                        target)[0])
    assert y[0] == pytest.approx(empty, abs=1e-5)  # nothing kept: everything removed
    assert y[-1] == pytest.approx(float(_prob(tiny_model, clip_tensor(tiny_model, frames), target)[0]), abs=1e-5)


def test_sampled_curve_is_measured_where_it_moves(tiny_model, frames):
    from ace3d.evaluation.metrics import REFINE_TOLERANCE, sampled

    t, h, w = frames.shape[:3]
    target = int(_prob(tiny_model, clip_tensor(tiny_model, frames), slice(None))[0].argmax())
    masks = np.zeros((12, t, h, w), bool)
    for k in range(12):  # twelve bands of rows, top to bottom
        masks[k, :, k * h // 12:(k + 1) * h // 12] = True
    engine = ForwardEngine(tiny_model, batch_size=4)
    x, y = deletion_curve(engine, frames, masks, target)
    clips = engine.clips
    xs, ys = deletion_curve(engine, frames, masks, target, max_points=4)
    assert engine.clips - clips == len(xs) < len(x)  # fewer forwards than the exact curve
    at = [int(np.argmin(np.abs(x - v))) for v in xs]
    assert set(sampled(x, 4).tolist()) <= set(at)  # the even steps are there
    assert np.allclose(ys, y[at], atol=1e-5)  # every measured point is the exact curve's
    for a, b, ya, yb in zip(at, at[1:], ys, ys[1:], strict=False):  # gaps only where the curve stays put
        assert b - a == 1 or abs(ya - yb) <= REFINE_TOLERANCE
    assert np.array_equal(sampled(np.linspace(0, 1, 4), 11), np.arange(4))  # few points: all kept
    assert np.array_equal(sampled(x, 0), np.arange(len(x)))  # 0: the exact curve


def test_curve_cache_shares_points_between_rankings(tiny_model, frames):
    from ace3d.evaluation.metrics import insertion_curve, ranking_aucs

    t, h, w = frames.shape[:3]
    target = 0
    masks = _halves(frames)
    engine, cache = ForwardEngine(tiny_model), {}
    first = ranking_aucs(engine, frames, masks, target, cache=cache)
    assert first == pytest.approx(ranking_aucs(ForwardEngine(tiny_model), frames, masks, target), abs=1e-6)
    clips = engine.clips
    again = ranking_aucs(engine, frames, masks, target, cache=cache)
    assert engine.clips == clips and again == first  # every point was measured already
    # the reverse ranking removes and keeps the same halves: nothing new to measure
    insertion_curve(engine, frames, masks[::-1].copy(), target, cache=cache)
    assert engine.clips == clips
    quarter = np.zeros((1, t, h, w), bool)
    quarter[0, :, : h // 2, : w // 2] = True
    x, y = insertion_curve(engine, frames, quarter, target, cache=cache)  # only the quarter kept is new
    assert engine.clips == clips + 1 and np.allclose(x, [0, 0.25, 1.0])


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion", "grad_cam", "random"])
def test_voxel_methods_rank_the_same_supervoxels(tiny_model, tiny_bank, frames, trunk_calls, method):
    from ace3d.evaluation import methods

    m = methods.build(method, ForwardEngine(tiny_model), bank=tiny_bank)
    regions = segment(frames, m.slic)
    r = m.attribute(_clip(frames), 2, regions=regions)
    labels = regions.labels[int(np.argmin([abs(n - 50) for n in m.slic.n_segments]))]
    assert sorted(r.ids) == sorted(np.unique(labels).tolist()) and len(r.masks) == len(r.scores) == len(r.ids)
    assert list(r.scores) == sorted(r.scores, reverse=True)
    assert np.array_equal(r.masks.sum(0), np.ones(labels.shape, int))  # the segments tile the clip
    assert r.heatmap.shape == frames.shape[:3] and 0 <= r.heatmap.min() and r.heatmap.max() <= 1
    expected_forwards = {"grad_cam": 1, "random": 0}.get(method)
    assert r.forwards == expected_forwards if expected_forwards is not None else r.forwards > 1
    assert trunk_calls == {"forwards": r.forwards, "clips": r.clips_evaluated}


def test_grad_cam_axes_line_up_with_the_clip(tiny_model, tiny_bank, frames):
    """grad-cam's 3D path against Grad-CAM computed here by hand at the layer's resolution and resized with
    torch: the two maps must agree, which fails if grad-cam's resize swapped T, H or W."""
    from ace3d.evaluation.methods import GradCamMethod

    x = model_input(tiny_model, frames)
    with torch.no_grad():
        a0 = tiny_model.trunk(x)
    hands = []
    for target in range(len(tiny_model.class_names)):
        a = a0.detach().clone().requires_grad_(True)
        tiny_model.head(a)[0, target].backward()
        cam = torch.relu((a.grad.mean(dim=(2, 3, 4), keepdim=True) * a).sum(1, keepdim=True))
        hands.append((float(cam.std()), target, cam.detach()))
    spread, target, cam = max(hands, key=lambda h: h[0])  # a class whose map is not all zero
    assert spread > 0 and cam.shape[2:] != x.shape[2:]  # a coarser map than the clip
    hand = torch.nn.functional.interpolate(cam, size=x.shape[2:], mode="trilinear")[0, 0].numpy()
    r = GradCamMethod(ForwardEngine(tiny_model)).attribute(_clip(frames), target)
    assert r.heatmap.shape == hand.shape
    assert np.corrcoef(r.heatmap.ravel(), hand.ravel())[0, 1] > 0.9


def test_random_ranking_depends_on_its_seed(tiny_model, frames):
    from ace3d.evaluation.methods import RandomRanking

    regions = segment(frames, SlicParams())
    a = RandomRanking(ForwardEngine(tiny_model), seed=1).attribute(_clip(frames), 0, regions=regions)
    b = RandomRanking(ForwardEngine(tiny_model), seed=2).attribute(_clip(frames), 0, regions=regions)
    assert sorted(a.ids) == sorted(b.ids) and a.ids != b.ids


def test_methods_that_segment_themselves_refuse_regions(tiny_model, tiny_bank, frames):
    """`regions` is honoured or refused, never silently ignored."""
    from ace3d.evaluation import methods

    regions = segment(frames, SlicParams())
    engine = ForwardEngine(tiny_model)
    for name, cls in methods.METHODS.items():
        m = methods.build(name, engine, bank=tiny_bank)
        assert isinstance(m, cls) and m.engine is engine
        if not cls.takes_regions:
            with pytest.raises(ValueError, match="takes no regions"):
                m.attribute(_clip(frames), 0, regions=regions)
    assert {n for n, c in methods.METHODS.items() if not c.takes_regions} == {"ace", "reference"}


def test_ace_variants_are_built_by_name(tiny_model, tiny_bank):
    """`--methods ace_heat,ace_pieces` reach every comparison (synthetic, shortcut, real) through one registry."""
    from ace3d.errors import OptionsError
    from ace3d.evaluation import methods

    engine = ForwardEngine(tiny_model)
    for name, within in methods.ACE_VARIANTS.items():
        m = methods.build(name, engine, bank=tiny_bank, removal="bottleneck")
        assert isinstance(m, methods.AceMethod) and (m.name, m.within) == (name, within)
        assert m.explainer.removal == "bottleneck" and name in methods.NAMES
    with pytest.raises(OptionsError, match="ace_pieces"):
        methods.build("ace_piece", engine)


def test_ace_method_counts_every_forward_with_an_ace_bank(tiny_model, tiny_bank, frames, trunk_calls):
    """With an "ace"-mode bank each supervoxel goes through the network alone: the method's count includes
    those forwards (checked against the count of the model's own trunk calls)."""
    import dataclasses

    from ace3d.evaluation.methods import AceMethod

    ace_bank = dataclasses.replace(tiny_bank, meta={**tiny_bank.meta, "feature_mode": "ace"})
    target = int(tiny_bank.class_index[0])  # a class the bank has concepts for: features in ace mode
    engine = ForwardEngine(tiny_model, batch_size=4, precision="fp32")
    engine.classify([frames])  # the prediction's traced model is built here, outside the count below
    before = dict(trunk_calls)
    a = AceMethod(engine, bank=ace_bank).attribute(_clip(frames), target)
    seen = {k: trunk_calls[k] - before[k] for k in trunk_calls}
    n_sv, k = len(a.detail.supervoxels), len(a.masks)
    assert n_sv > 4 and k >= 1
    # the prediction (one clip, through the traced model, which the trunk count cannot see), every supervoxel
    # alone in batches of 4, and the k removals plus the union of all of them, in batches of 4
    assert a.forwards == 1 + math.ceil(n_sv / 4) + math.ceil((k + 1) / 4)
    assert a.clips_evaluated == 1 + n_sv + k + 1
    assert seen == {"forwards": a.forwards - 1, "clips": a.clips_evaluated - 1}


def test_concept_pieces_follow_the_concepts_then_their_heat():
    from ace3d.evaluation.methods.ace import concept_pieces, in_concept_order

    labels = np.repeat(np.arange(4), 4).reshape(1, 4, 4).repeat(2, 0)  # 2 x 4 x 4: row i is label i
    concepts = np.zeros((2, 2, 4, 4), bool)
    concepts[0, :, :2] = True  # rows 0-1: labels 0 and 1
    concepts[1, :, 1:] = True  # rows 1-3: row 1 already the first concept's
    heat = np.zeros((2, 4, 4), np.float32)
    heat[:, 1] = 0.9  # in the first concept, label 1 is hotter
    heat[:, 3] = 0.5  # in the second, label 3
    owner, pieces = concept_pieces(concepts, labels)
    masks, scores = in_concept_order(owner, pieces, np.array([float(heat[p].mean()) for p in pieces]))
    assert [int(labels[m][0]) for m in masks] == [1, 0, 3, 2]
    assert np.allclose(scores, [0.9, 0.0, 0.5, 0.0])
    assert masks.sum(0).max() == 1 and masks.any(0).sum() == concepts.any(0).sum()  # no voxel twice, none lost


def test_ace_refined_into_pieces_costs_no_forward(tiny_model, tiny_bank, frames):
    from ace3d.evaluation.methods.ace import AceMethod

    engine = ForwardEngine(tiny_model)
    whole = AceMethod(engine, bank=tiny_bank).attribute(_clip(frames), 0)
    pieces = AceMethod(engine, bank=tiny_bank, within="heat")
    clips = engine.clips
    fine = pieces.refine(whole, 0)
    assert engine.clips == clips and fine.clips_evaluated == whole.clips_evaluated
    assert len(fine.masks) >= len(whole.masks)
    assert np.array_equal(fine.masks.any(0), whole.masks.any(0))  # the same voxels, in finer steps
    with pytest.raises(ValueError, match="unknown within"):
        AceMethod(engine, bank=tiny_bank, within="rows")


def test_pieces_of_the_top_concepts_ranked_by_their_own_removal(tiny_model, tiny_bank, frames):
    from ace3d.evaluation.methods.ace import TOP_REMOVAL, AceMethod, concept_pieces
    from ace3d.evaluation.methods.over_segments import labels_near

    engine = ForwardEngine(tiny_model, precision="fp32")  # the removals' forwards are bfloat16 where the CPU has it
    whole = AceMethod(engine, bank=tiny_bank).attribute(_clip(frames), 0)
    r = whole.detail
    owner, _ = concept_pieces(r.masks, labels_near(r.supervoxels, tiny_bank.slic.n_segments))
    measured = sum(k < TOP_REMOVAL for k in owner)
    clips = engine.clips
    fine = AceMethod(engine, bank=tiny_bank, within="removal").refine(whole, 0)
    assert engine.clips - clips == measured and fine.clips_evaluated == whole.clips_evaluated + measured
    assert np.array_equal(fine.masks.any(0), whole.masks.any(0))
    first = fine.masks[:sum(k == 0 for k in owner)]
    assert np.array_equal(first.any(0), r.masks[0])  # the top concept's pieces come first
    drops = fine.scores[:len(first)]
    assert np.all(np.diff(drops) <= 1e-6)  # by their own drop, largest first
    removed = engine.logits(remove(frames, torch.from_numpy(first[:1])))[0, 0]
    assert drops[0] == pytest.approx(r.instance - float(removed), abs=1e-3)


def test_core_of_the_top_concept_comes_first(tiny_model, tiny_bank, frames):
    """"core": the fewest of the top concept's pieces (by their own removal) whose removal together drops
    CORE_SHARE of the whole concept's drop, then the rest of that concept, then the other concepts."""
    from ace3d.evaluation.methods.ace import CORE_SHARE, AceMethod

    engine = ForwardEngine(tiny_model, precision="fp32")
    whole = AceMethod(engine, bank=tiny_bank).attribute(_clip(frames), 0)
    r = whole.detail
    fine = AceMethod(engine, bank=tiny_bank, within="core").refine(whole, 0)
    core = fine.masks[0]
    assert core.any() and not (core & ~r.masks[0]).any()  # inside the top concept
    assert np.array_equal(fine.masks.any(0), whole.masks.any(0))  # nothing lost, nothing added
    split = int(not np.array_equal(core, r.masks[0]))  # 1 when the core left part of the concept over
    assert len(fine.masks) == len(whole.masks) + split and fine.ids[:1 + split] == [r.concept_ids[0]] * (1 + split)
    assert np.array_equal(fine.masks[1 + split:], whole.masks[1:])
    removed = engine.logits(remove(frames, torch.from_numpy(np.stack([core, r.masks[0]]))), fast=True)[:, 0]
    drops = r.instance - removed.numpy()
    assert fine.scores[0] == pytest.approx(float(drops[0]), abs=1e-3)
    if split:
        assert drops[0] >= CORE_SHARE * drops[1] - 1e-3
