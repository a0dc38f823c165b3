import numpy as np
import pytest
import torch

from ace3d.errors import OptionsError
from ace3d.explain import Explainer, Request, fill_removed, remove
from ace3d.v1 import explanation_pb2 as pb
from ace3d.video import Clip, read_file, to_tensor
from ace3d.wire import from_volume, parse_options, to_json


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


def test_bottleneck_removal_and_input_reach(tiny_model):
    from ace3d.explain import remove_features

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
    exp, results = ex.explain(video, Request(target_class=target, top_k=2, max_concepts=3))
    assert len(exp.scores) == 2 and exp.scores[0].probability >= exp.scores[1].probability
    assert exp.bank_id == tiny_bank.bank_id and exp.clip_count == 1 and not exp.partial
    clip = exp.clips[0]
    assert list(clip.frame_indices) == list(range(16))
    assert (clip.region.width, clip.region.height) == (112, 112)
    assert 1 <= len(clip.concepts) <= 3
    imps = [c.importance for c in clip.concepts]
    assert imps == sorted(imps, reverse=True)
    heat, cmap = from_volume(clip.heatmap), from_volume(clip.concept_map)
    assert heat.dtype == np.float16 and heat.shape == (16, 32, 32) and cmap.shape == (16, 32, 32)
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
    exp, _ = ex.explain(video, Request(target_class="move_down"))
    assert exp.target_class == "move_down"
    with pytest.raises(OptionsError, match="unknown target class"):
        ex.explain(video, Request(target_class="jump"))
    cls, res = ex.explain(video, Request(classify_only=True))
    assert not res and not cls.clips[0].concepts and not cls.clips[0].HasField("heatmap")


def test_streaming_multi_clip(tiny_model, tiny_bank, synth_dir):
    ex = Explainer(tiny_model, tiny_bank)
    video = read_file(sorted((synth_dir / "move_right").glob("*.mp4"))[0])
    video.frames = np.concatenate([video.frames] * 3)  # 48 frames: three clips
    target = tiny_bank.class_names[tiny_bank.class_index[0]]
    parts = [m for m, _ in ex.stream(video, Request(target_class=target, max_clips=3))]
    assert [p.partial for p in parts] == [True, True, True, False]
    assert [p.clips[0].clip_index for p in parts[:3]] == [0, 1, 2]
    assert len(parts[-1].clips) == 3 and parts[-1].clip_count == 3


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
        Request.from_proto(pb.ExplainOptions(max_clips=10_000))


def test_frozen_bf16_perturbed_forwards(tiny_model, tiny_bank):
    """On a CPU with bf16, perturbed clips run through the traced, frozen model: its logits match float32
    eager ones to bf16 precision for any batch size; float32 explainers never build it."""
    clips = torch.rand(5, *tiny_model.clip_shape, 3) * 255
    ex = Explainer(tiny_model, tiny_bank, precision="bf16")
    exact = ex._logits_of(clips)  # fast=False: float32 eager
    fast = ex._logits_of(clips, fast=True)
    assert ex._frozen.get("fast") is not None
    assert fast.shape == exact.shape
    assert (fast - exact).abs().max() < 0.05 * max(1.0, float(exact.abs().max()))
    assert torch.allclose(ex._logits_of(clips[:2], fast=True), fast[:2], atol=1e-3)  # another batch size
    fp32 = Explainer(tiny_model, tiny_bank, precision="fp32")
    assert torch.equal(fp32._logits_of(clips, fast=True), exact)
    assert "fast" not in fp32._frozen


def test_prediction_runs_through_the_frozen_float32_model(tiny_model, tiny_bank):
    """On a CPU the prediction's forward (activation and logits) runs traced and frozen in float32: the same
    numbers as the eager trunk and head, for one clip and for a batch."""
    ex = Explainer(tiny_model, tiny_bank, precision="fp32")
    rng = np.random.default_rng(0)
    t, h, w = tiny_model.clip_shape
    clips = [Clip(index=i, frames=rng.integers(0, 256, (t, h, w, 3), dtype=np.uint8), frame_indices=list(range(t)),
                  region=(0, 0, w, h)) for i in range(3)]
    for batch in (clips[:1], clips):
        acts, logits = ex.classify(batch)
        x = torch.stack([to_tensor(c.frames, tiny_model.mean, tiny_model.std) for c in batch])
        with torch.inference_mode():
            a = tiny_model.trunk(x)
            expected = tiny_model.head(a)
        assert torch.allclose(acts, a, atol=1e-4) and torch.allclose(logits, expected, atol=1e-4)
    assert ex._frozen.get("exact") is not None


def test_untraceable_model_keeps_eager_autocast(tiny_model, tiny_bank, caplog):
    import dataclasses

    def refuses_tracing(x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():
            raise RuntimeError("this stage cannot be traced")
        return x

    clf = dataclasses.replace(tiny_model, stages=[("refuse", refuses_tracing), *tiny_model.stages])
    ex = Explainer(clf, tiny_bank, precision="bf16")
    clips = torch.rand(3, *tiny_model.clip_shape, 3) * 255
    out = ex._logits_of(clips, fast=True)
    assert "fast" in ex._frozen and ex._frozen["fast"] is None
    assert "tracing" in caplog.text and "eager autocast" in caplog.text
    t, h, w = tiny_model.clip_shape
    frames = np.full((t, h, w, 3), 128, np.uint8)
    _, logits = ex.classify([Clip(index=0, frames=frames, frame_indices=list(range(t)), region=(0, 0, w, h))])
    assert ex._frozen["exact"] is None and "predictions stay in eager mode" in caplog.text
    with torch.inference_mode():
        expected = tiny_model.logits(to_tensor(frames, tiny_model.mean, tiny_model.std)[None])
    assert torch.allclose(logits, expected, atol=1e-5)
    assert (out - ex._logits_of(clips)).abs().max() < 0.05 * max(1.0, float(out.abs().max()))


def test_warmup_prepares_the_perturbed_path(tiny_model, tiny_bank):
    ex = Explainer(tiny_model, tiny_bank, precision="bf16", batch_size=3)
    seconds = ex.warmup()
    assert seconds > 0 and ex._frozen.get("fast") is not None  # traced before any request
    assert ex._frozen.get("exact") is not None
    assert Explainer(tiny_model, tiny_bank, precision="fp32").warmup(max_batch=2) > 0  # eager path warms too


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
