import numpy as np
import pytest
import torch

from ace3d.errors import OptionsError
from ace3d.method.explainer import Explainer, Request
from ace3d.method.results import ClassifiedClip
from ace3d.method.stages import Stage
from ace3d.method.video import read_file
from ace3d.serving import messages
from ace3d.serving.service import request_from_options
from ace3d.v1 import explanation_pb2 as pb
from ace3d.wire import from_volume, parse_options, to_json


def test_bottleneck_removal_and_input_reach(tiny_model):
    from ace3d.method.removal import remove_features

    act = torch.randn(4, 3, 2, 2)
    none = torch.zeros(2, 3, 2, 2)
    assert torch.allclose(remove_features(act, none), act.expand(2, -1, -1, -1, -1))
    w = torch.zeros(1, 3, 2, 2)
    w[0, 1, 0, 0] = 1.0  # one cell at one time: filled with the same cell's mean over the other times
    out = remove_features(act, w)[0]
    assert torch.allclose(out[:, 1, 0, 0], act[:, [0, 2], 0, 0].mean(1))
    m = torch.zeros(1, 4, 3, 3, dtype=torch.bool)
    m[0, 0, 1, 1] = True
    reach = tiny_model.input_reach(m)
    # the tiny model compares every frame with frame 0, so a frame-0 pixel reaches every frame
    assert reach[0, :, 1, 1].all() and reach.sum() == 4


def test_explanation_message(tiny_model, tiny_bank, synth_dir):
    ex = Explainer(tiny_model, tiny_bank)
    video = read_file(sorted((synth_dir / "move_left").glob("*.mp4"))[0])
    target = tiny_bank.class_names[tiny_bank.class_index[0]]  # a class the tiny bank has concepts for
    v = ex.explain(video, Request(target_class=target, top_k=2, max_concepts=3))
    exp, results = messages.explanation(v), v.explained
    assert len(exp.scores) == 2 and exp.scores[0].probability >= exp.scores[1].probability
    assert exp.bank_id == tiny_bank.bank_id and exp.clip_count == 1 and not exp.partial
    clip = exp.clips[0]
    assert list(clip.frame_indices) == list(range(16))
    assert (clip.region.width, clip.region.height) == (112, 112)
    assert 1 <= len(clip.concepts) <= 3
    imps = [c.importance for c in clip.concepts]
    assert imps == sorted(imps, reverse=True)
    heat, cmap = from_volume(clip.heatmap), from_volume(clip.concept_map)
    assert heat.dtype == np.float16 and heat.shape == cmap.shape == tuple(tiny_model.clip_shape)
    assert cmap.max() <= len(clip.concepts)
    r = results[0]
    # the reported scores are the model's own outputs on the unchanged and perturbed clips
    assert clip.instance_score == pytest.approx(r.instance)
    assert clip.instance_score - clip.top_concept_removed_score == pytest.approx(clip.concepts[0].importance,
                                                                                    abs=1e-4)
    # the JSON is the canonical mapping and parses back
    text = to_json(exp)
    assert '"bankId"' in text and '"frameIndices"' in text


def test_target_and_classify_only(tiny_model, tiny_bank, synth_dir):
    ex = Explainer(tiny_model, tiny_bank)
    video = read_file(sorted((synth_dir / "move_up").glob("*.mp4"))[0])
    exp = ex.explain(video, Request(target_class="move_down"))
    assert exp.target_class == "move_down"
    with pytest.raises(OptionsError, match="unknown target class"):
        ex.explain(video, Request(target_class="jump"))
    v = ex.explain(video, Request(classify_only=True))
    assert not v.explained and isinstance(v.clips[0], ClassifiedClip) and Stage.SUPERVOXELS not in v.timings
    cls = messages.explanation(v)
    assert not cls.clips[0].concepts and not cls.clips[0].HasField("heatmap")
    assert cls.clips[0].instance_score == pytest.approx(float(v.clips[0].logits[v.target]))


def test_streaming_multi_clip(tiny_model, tiny_bank, synth_dir):
    ex = Explainer(tiny_model, tiny_bank)
    video = read_file(sorted((synth_dir / "move_right").glob("*.mp4"))[0])
    video.frames = np.concatenate([video.frames] * 3)  # 48 frames: three clips
    target = tiny_bank.class_names[tiny_bank.class_index[0]]
    answers = list(ex.stream(video, Request(target_class=target, max_clips=3)))
    assert [len(a.clips) for a in answers] == [1, 1, 1, 3] and not answers[0].timings
    assert set(answers[-1].timings) == {Stage.CLASSIFY, Stage.SUPERVOXELS, Stage.FEATURES, Stage.IMPORTANCE,
                                         Stage.TOTAL}
    parts = [messages.explanation(a) for a in answers]
    assert [p.partial for p in parts] == [True, True, True, False]
    assert [p.clips[0].clip_index for p in parts[:3]] == [0, 1, 2]
    assert len(parts[-1].clips) == 3 and parts[-1].clip_count == 3


def test_class_scores_from_more_clips_than_are_explained(tiny_model, tiny_bank, synth_dir):
    ex = Explainer(tiny_model, tiny_bank)
    video = read_file(sorted((synth_dir / "move_right").glob("*.mp4"))[0])
    video.frames = np.concatenate([video.frames, video.frames[::-1], video.frames])  # the middle clip runs left
    three = ex.explain(video, Request(max_clips=3, classify_only=True))
    scored = ex.explain(video, Request(max_clips=1, score_clips=3))
    assert scored.scored_clips == 3 and scored.clip_count == 1 and len(scored.clips) == 1
    assert np.allclose(scored.probabilities, three.probabilities, atol=1e-6)  # the scores of all three clips
    target_probs = [float(c.probabilities[scored.target]) for c in three.clips]
    shown = scored.clips[0]
    best = int(np.argmax(target_probs))
    assert shown.clip.frame_indices == three.clips[best].clip.frame_indices  # the clip that shows the class best
    assert shown.clip.index == 0 and messages.explanation(scored).scored_clips == 3
    one = ex.explain(video, Request(max_clips=1))  # the demo model's default: the class from the explained clip
    assert one.scored_clips == 1 and tiny_model.score_clips == 1


def test_answered_clips_are_the_most_probable_in_time_order():
    from ace3d.method.explainer import answered_clips

    assert answered_clips(np.array([0.1, 0.9, 0.5]), 1) == [1]
    assert answered_clips(np.array([0.6, 0.1, 0.9, 0.5]), 2) == [0, 2]
    assert answered_clips(np.array([0.2, 0.3]), 4) == [0, 1]


def test_options_parsing():
    assert parse_options(None).top_k == 0
    opts = pb.ExplainOptions(target_class="move_up", top_k=3)
    assert parse_options(opts.SerializeToString()).target_class == "move_up"
    assert parse_options('{"maxClips": 2, "classifyOnly": true}').max_clips == 2
    with pytest.raises(OptionsError, match="malformed options"):
        parse_options(b'{"topK": "many"}')
    with pytest.raises(OptionsError, match="malformed options"):
        parse_options(b"\xff\xff\xff")
    with pytest.raises(OptionsError, match="over the limit"):
        request_from_options(pb.ExplainOptions(max_clips=10_000))
    with pytest.raises(OptionsError, match="score_clips 9 is over the limit of 8"):
        request_from_options(pb.ExplainOptions(score_clips=9), max_clips=8)
    assert request_from_options(pb.ExplainOptions(), score_clips=2).score_clips == 2  # the server's default
    assert request_from_options(pb.ExplainOptions(score_clips=3), score_clips=2).score_clips == 3


def test_without_a_bank_the_clip_groups_are_explained(tiny_model, synth_dir):
    """No bank (or no concept of the target class): the concepts are the clip's own supervoxel groups, named
    apart from bank concepts, without TCAV fields, with importance, heatmap and self-check scores as usual."""
    ex = Explainer(tiny_model, None)
    video = read_file(sorted((synth_dir / "move_up").glob("*.mp4"))[0])
    v = ex.explain(video)
    exp, res = messages.explanation(v), v.explained
    clip = exp.clips[0]
    assert exp.bank_id == "" and res[0].source == "clip"
    assert 1 <= len(clip.concepts) <= ex.max_groups
    for c in clip.concepts:
        assert c.source == pb.ConceptInstance.CLIP and c.name.startswith("clip/group_")
        assert not c.HasField("tcav_score") and not c.HasField("p_value") and not c.HasField("significant")
    imps = [c.importance for c in clip.concepts]
    assert imps == sorted(imps, reverse=True)
    assert clip.instance_score - clip.top_concept_removed_score == pytest.approx(imps[0], abs=1e-3)
    assert from_volume(clip.heatmap).shape == tuple(tiny_model.clip_shape) and clip.HasField("concept_map")
    assert "tcavScore" not in to_json(exp)


def test_a_class_without_bank_concepts_gets_clip_groups(tiny_model, tiny_bank, synth_dir):
    import dataclasses

    from ace3d.method.bank import ARRAYS

    keep = tiny_bank.class_index != 0  # the bank without class 0's concepts
    rows = {k: getattr(tiny_bank, k)[keep] for k in ARRAYS if k != "baseline_feature"}
    partial = dataclasses.replace(tiny_bank, **rows, names=[n for n, k in zip(tiny_bank.names, keep, strict=True) if k])
    ex = Explainer(tiny_model, partial)
    video = read_file(sorted((synth_dir / "move_up").glob("*.mp4"))[0])
    v = ex.explain(video, Request(target_class=tiny_model.class_names[0]))
    exp, res = messages.explanation(v), v.explained
    assert res[0].source == "clip" and exp.bank_id == tiny_bank.bank_id and exp.clips[0].concepts
    assert all(c.source == pb.ConceptInstance.CLIP for c in exp.clips[0].concepts)
    other = tiny_model.class_names[int(tiny_bank.class_index[keep][0])]
    assert ex.explain(video, Request(target_class=other)).explained[0].source == "bank"


def test_ranked_removal_ranks_at_the_bottleneck_and_checks_in_the_clip(tiny_model, tiny_bank, synth_dir):
    video = read_file(sorted((synth_dir / "move_left").glob("*.mp4"))[0])
    (b,) = Explainer(tiny_model, tiny_bank, removal="bottleneck", precision="fp32").explain(video).explained
    ranked = Explainer(tiny_model, tiny_bank, removal="ranked", precision="fp32")
    (r,) = ranked.explain(video).explained
    assert r.concept_ids == b.concept_ids and np.allclose(r.importance, b.importance)
    logits, _ = ranked.input_removed_logits(r.clip, torch.from_numpy(np.stack([r.masks[0], r.masks.any(0)])))
    t = int(tiny_model.class_names.index(_target_of(ranked, video)))
    assert r.top_removed == pytest.approx(float(logits[0, t]), abs=1e-4)
    assert r.baseline == pytest.approx(float(logits[1, t]), abs=1e-4)


def _target_of(explainer, video) -> str:
    return explainer.explain(video, Request(classify_only=True)).target_class
