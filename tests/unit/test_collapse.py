"""A concept map that cannot collapse unseen (ace3d/method/collapse.py): a concept over half the clip is split
into its connected parts before the ranking and each part is ranked on its own; a clip whose top instance still
covers more than half of it is flagged, in the ClipResult, the served message, the client's table, the metrics
and the report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ace3d.method import collapse
from ace3d.method.explainer import Explainer
from ace3d.method.supervoxels import Supervoxels
from ace3d.method.video import make_clips, read_file
from ace3d.serving import messages
from ace3d.serving.service import ExplainService
from ace3d.v1 import explanation_pb2 as pb


def _supervoxels() -> Supervoxels:
    """4 x 10 x 10, one resolution: 0 left columns 0-3, 1 right columns 6-9, 2 the middle columns, 3 a speck of
    one voxel cut out of supervoxel 2 (away from both blobs)."""
    lab = np.full((4, 10, 10), 2, np.int32)
    lab[:, :, :4] = 0
    lab[:, :, 6:] = 1
    lab[0, 0, 5] = 3
    return Supervoxels(labels=[lab], items=[(0, 0), (0, 1), (0, 2), (0, 3)])


def test_a_concept_over_the_share_in_two_blobs_becomes_two_instances_largest_first():
    sv = _supervoxels()
    groups = [np.array([1, 0]), np.array([2])]  # concept 0: both side blobs (80% of the clip); concept 1: middle
    masks = sv.concept_masks(groups)
    inst = collapse.split(sv, groups, masks)
    assert inst.concept == [0, 0, 1]
    assert [g.tolist() for g in inst.groups] == [[0], [1], [2]]  # equal parts: in the order they are found
    assert collapse.coverage(inst.masks).tolist() == pytest.approx([0.4, 0.4, 0.1975])
    assert not (inst.masks[0] & inst.masks[1]).any()
    assert np.array_equal(inst.masks[0] | inst.masks[1], masks[0])  # the parts' union is the concept


def test_a_speck_joins_the_largest_part_and_nothing_under_the_share_changes():
    sv = _supervoxels()
    groups = [np.array([0, 1, 3]), np.array([2])]  # the one-voxel speck is its own component, under MIN_PART
    masks = sv.concept_masks(groups)
    inst = collapse.split(sv, groups, masks)
    assert inst.concept == [0, 0, 1]  # two parts, not three
    assert 3 in inst.groups[0].tolist() and np.array_equal(inst.masks[0] | inst.masks[1], masks[0])
    small = [np.array([0]), np.array([2])]  # 40% and 20%: nothing to split
    same = collapse.split(sv, small, sv.concept_masks(small))
    assert same.concept == [0, 1] and same.groups[0] is small[0]


def test_a_supervoxel_in_two_pieces_is_cut_and_counted_in_both_parts():
    lab = np.ones((2, 6, 6), np.int32)
    lab[:, :, :2] = 0
    lab[:, :, 4:] = 0  # supervoxel 0 in two pieces (the fast SLIC does not enforce connectivity), 67% of the clip
    sv = Supervoxels(labels=[lab], items=[(0, 0), (0, 1)])
    groups = [np.array([0]), np.array([1])]
    inst = collapse.split(sv, groups, sv.concept_masks(groups))
    assert inst.concept == [0, 0, 1]
    assert inst.masks[0][:, :, :2].all() and not inst.masks[0][:, :, 2:].any()
    assert inst.masks[1][:, :, 4:].all() and not inst.masks[1][:, :, :4].any()
    assert [g.tolist() for g in inst.groups] == [[0], [0], [1]]


class _Placed(Explainer):
    """The real explainer with the concept assignment chosen by the test from where each supervoxel lies (its
    leftmost and rightmost column): the features step gives those columns, the assignment step the concepts."""

    def __init__(self, clf, rule) -> None:
        super().__init__(clf, None, precision="fp32")
        self.rule = rule

    def features(self, clip, activation, sv, target):
        cols = [np.flatnonzero(sv.mask(i).any((0, 1))) for i in range(len(sv))]
        return np.array([[c.min(), c.max()] for c in cols], np.float32)

    def assign(self, features, target):
        return np.array([self.rule(lo, hi) for lo, hi in features]), np.arange(3), "clip"


@pytest.fixture(scope="module")
def clip(tiny_model, synth_dir):
    video = read_file(sorted((synth_dir / "move_left").glob("*.mp4"))[0])
    return make_clips(video, tiny_model.clip_shape, frame_rate=tiny_model.frame_rate)[0]


def _explain(ex: Explainer, clip):
    acts, logits = ex.classify([clip])
    target = int(logits[0].argmax())
    r = ex.explain_clip(clip, acts[0], logits[0], target)
    r.probabilities, r.logits = logits[0].softmax(0).numpy(), logits[0].numpy()  # as `Explainer.stream` does
    return r, target


def test_a_concept_in_two_distant_blobs_is_ranked_as_two_instances(tiny_model, clip):
    w = clip.frames.shape[2]
    # concept 0: supervoxels wholly in the left 45% or the right 45% of the frame; concept 1: the rest
    ex = _Placed(tiny_model, lambda lo, hi: 0 if hi < 0.45 * w or lo >= 0.55 * w else 1)
    r, target = _explain(ex, clip)
    left_right = [v for v, cid in enumerate(r.concept_ids) if cid == 0]
    assert len(left_right) == 2, "the two blobs of concept 0 are two instances"
    a, b = (r.masks[v] for v in left_right)
    assert not (a & b).any()
    assert a.sum() + b.sum() > 0.5 * a.size, "concept 0 as a whole covered more than the share"
    # each part's importance is its own removal's drop, measured again here part by part
    logits, _ = ex.input_removed_logits(clip, torch.from_numpy(np.stack([a, b])))
    assert r.importance[left_right].tolist() == pytest.approx((r.instance - logits[:, target]).tolist(), abs=1e-3)
    assert r.top_coverage == pytest.approx(r.masks[0].mean()) and r.top_coverage < collapse.SHARE
    assert not r.collapsed
    assert len(r.supervoxel_counts) == len(r.concept_ids) and sum(r.supervoxel_counts) >= len(r.supervoxels)


def test_one_blob_over_the_share_is_flagged_in_the_result_the_message_and_the_metrics(tiny_model, clip):
    ex = _Placed(tiny_model, lambda lo, hi: 0)  # every supervoxel one concept: one blob, the whole clip
    r, target = _explain(ex, clip)
    assert r.concept_ids == [0] and r.collapsed and r.top_coverage > 0.9
    msg = messages.explained_clip(r, None, tiny_model.class_names, 2, target)
    assert msg.collapsed and msg.top_coverage == pytest.approx(r.top_coverage)
    back = pb.ClipExplanation.FromString(msg.SerializeToString())
    assert back.collapsed and back.top_coverage == pytest.approx(r.top_coverage)
    obs = ExplainService.observations(pb.Explanation(clips=[msg]))
    assert ("ace3d_collapsed_maps", 1, []) in obs


def test_an_unflagged_clip_adds_no_collapse_count():
    clip = pb.ClipExplanation(heatmap=pb.Volume(shape=[1]), top_coverage=0.4)
    assert not [o for o in ExplainService.observations(pb.Explanation(clips=[clip])) if o[0] == "ace3d_collapsed_maps"]


def _answered(collapsed: bool) -> pb.ClipExplanation:
    top = pb.ConceptInstance(id=1, name="clip/group_1", importance=1.0, coverage=0.9, source=pb.ConceptInstance.CLIP)
    return pb.ClipExplanation(concepts=[top], heatmap=pb.Volume(shape=[1]), collapsed=collapsed,
                              top_coverage=0.9 if collapsed else 0.3)


def test_the_table_and_the_report_read_the_flag_not_a_threshold_of_their_own():
    from ace3d import report
    from ace3d.htmlreport.explanation_page import _self_check

    flagged, kept = _answered(True), _answered(False)  # `kept`'s top concept covers 90% yet is not flagged
    assert "collapsed concept map: the top concept covers 90.0% of the clip" in report.table(pb.Explanation(
        clips=[flagged]))
    assert "collapsed" not in report.table(pb.Explanation(clips=[kept]))
    assert "Warning" in _self_check(flagged) and "90%" in _self_check(flagged)
    assert "Warning" not in _self_check(kept)
