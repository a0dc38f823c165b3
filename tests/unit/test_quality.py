"""Explanation quality signals (ace3d/serving/quality.py): the self-check probabilities the explainer puts on
each clip, what removing the top concept did, and the share of a clip the bank does not know; and that the
service turns them into its metrics."""

import pytest
import torch

from ace3d.method.explainer import Explainer
from ace3d.serving import protocol, quality
from ace3d.serving.service import ExplainService, ServiceConfig
from ace3d.v1 import explanation_pb2 as pb


def _clip(p: float, p_removed: float | None, predicted: int = 0, removed_class: int = 0,
          sources=()) -> pb.ClipExplanation:
    clip = pb.ClipExplanation(instance_probability=p, scores=[pb.ClassScore(index=predicted, probability=p)],
                              heatmap=pb.Volume(shape=[1]))
    if p_removed is not None:
        clip.top_concept_removed_probability = p_removed
        clip.top_concept_removed_class = removed_class
    for source, coverage in sources:
        clip.concepts.add(source=source, coverage=coverage)
    return clip


@pytest.mark.parametrize("p, p_removed, removed_class, effect", [
    (0.9, 0.2, 1, quality.PREDICTION_CHANGED),  # another class wins without the top concept
    (0.9, 0.6, 0, quality.SCORE_FELL),  # fell by a third, prediction kept
    (0.9, 0.85, 0, quality.NOTHING),  # fell by 5.6% of itself: under NOTHING_BELOW
    (0.9, 0.95, 0, quality.NOTHING),  # rose
    (0.9, None, 0, quality.NO_CONCEPTS),
])
def test_top_concept_effect(p, p_removed, removed_class, effect):
    assert quality.top_concept_effect(_clip(p, p_removed, removed_class=removed_class)) == effect


def test_top_concept_fall_is_relative_to_the_unchanged_probability():
    assert quality.top_concept_fall(_clip(0.5, 0.125)) == pytest.approx(0.75)
    assert quality.top_concept_fall(_clip(0.5, 0.75)) == pytest.approx(-0.5)
    assert quality.top_concept_fall(_clip(0.5, None)) is None


def test_unknown_coverage_counts_only_the_clips_own_groups():
    clip = _clip(0.9, 0.1, sources=[(pb.ConceptInstance.BANK, 0.5), (pb.ConceptInstance.CLIP, 0.2),
                                    (pb.ConceptInstance.CLIP, 0.1)])
    assert quality.unknown_coverage(clip) == pytest.approx(0.3)
    assert quality.unknown_coverage(_clip(0.9, 0.1, sources=[(pb.ConceptInstance.BANK, 0.9)])) == 0.0


@pytest.fixture(scope="module")
def video(synth_dir) -> bytes:
    return sorted((synth_dir / "move_right").glob("*.mp4"))[0].read_bytes()


@pytest.mark.parametrize("with_bank", [True, False])
def test_served_clips_carry_the_self_check_and_become_metrics(tiny_model, tiny_bank, video, with_bank):
    service = ExplainService(Explainer(tiny_model, tiny_bank if with_bank else None), ServiceConfig())
    final = list(service.answer({protocol.VIDEO: video}))[-1]
    clip = final.clips[0]
    assert clip.concepts, "the synthetic clip should have concepts"
    probs = torch.tensor([s.probability for s in clip.scores])
    target = [s.index for s in clip.scores].index(final.target_index)
    assert clip.instance_probability == pytest.approx(float(probs[target]), abs=1e-6)
    assert clip.HasField("top_concept_removed_probability") and clip.HasField("top_concept_removed_class")
    assert 0.0 <= clip.top_concept_removed_probability <= 1.0
    # the probability with the top concept removed agrees with its logit: lower logit, lower probability
    # relative to the unchanged clip only when the logit fell (the other classes' logits move too, so only
    # a strong fall is asserted)
    if clip.instance_score - clip.top_concept_removed_score > 3.0:
        assert clip.top_concept_removed_probability < clip.instance_probability
    obs = ExplainService.observations(final)
    effects = [dims[0] for name, _, dims in obs if name == "ace3d_explained_clips"]
    assert effects == [quality.top_concept_effect(clip)]
    falls = [v for name, v, _ in obs if name == "ace3d_top_concept_fall"]
    assert falls == [pytest.approx(quality.top_concept_fall(clip))]
    unknown = [v for name, v, _ in obs if name == "ace3d_unknown_concept_coverage"]
    if with_bank:  # the bank has concepts for every class of the synthetic set
        assert unknown == [0.0]
    else:  # without a bank every concept is the clip's own group, and the groups cover the clip
        assert unknown[0] > 0.95


def test_classification_only_clips_add_no_quality_signal(tiny_model, tiny_bank, video):
    service = ExplainService(Explainer(tiny_model, tiny_bank), ServiceConfig())
    opts = pb.ExplainOptions(classify_only=True).SerializeToString()
    final = list(service.answer({protocol.VIDEO: video, protocol.OPTIONS: opts}))[-1]
    names = {name for name, _, _ in ExplainService.observations(final)}
    assert not names & {"ace3d_explained_clips", "ace3d_top_concept_fall", "ace3d_unknown_concept_coverage"}


def test_status_codes_name_grpc_statuses():
    assert [protocol.status_code(s) for s in (200, 400, 413, 500, 504, 999)] == [
        "OK", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN"]
