import numpy as np
import torch

from ace3d.method.explainer import Explainer
from ace3d.method.video import Clip
from ace3d.models.engine import model_input


def test_frozen_bf16_perturbed_forwards(tiny_model, tiny_bank):
    """On a CPU with bf16, perturbed clips run through the traced, frozen model: its logits match float32
    eager ones to bf16 precision for any batch size; float32 explainers never build it."""
    clips = torch.rand(5, *tiny_model.clip_shape, 3) * 255
    ex = Explainer(tiny_model, tiny_bank, precision="bf16")
    exact = ex.engine.logits(clips)  # fast=False: float32 eager
    fast = ex.engine.logits(clips, fast=True)
    assert ex.engine._frozen.get("fast") is not None
    assert fast.shape == exact.shape
    assert (fast - exact).abs().max() < 0.05 * max(1.0, float(exact.abs().max()))
    assert torch.allclose(ex.engine.logits(clips[:2], fast=True), fast[:2], atol=1e-3)  # another batch size
    fp32 = Explainer(tiny_model, tiny_bank, precision="fp32")
    assert torch.equal(fp32.engine.logits(clips, fast=True), exact)
    assert "fast" not in fp32.engine._frozen


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
        x = torch.cat([model_input(tiny_model, c.frames) for c in batch])
        with torch.inference_mode():
            a = tiny_model.trunk(x)
            expected = tiny_model.head(a)
        assert torch.allclose(acts, a, atol=1e-4) and torch.allclose(logits, expected, atol=1e-4)
    assert ex.engine._frozen.get("exact") is not None


def test_untraceable_model_keeps_eager_autocast(tiny_model, tiny_bank, caplog):
    import dataclasses

    def refuses_tracing(x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_tracing():
            raise RuntimeError("this stage cannot be traced")
        return x

    clf = dataclasses.replace(tiny_model, stages=[("refuse", refuses_tracing), *tiny_model.stages])
    ex = Explainer(clf, tiny_bank, precision="bf16")
    clips = torch.rand(3, *tiny_model.clip_shape, 3) * 255
    out = ex.engine.logits(clips, fast=True)
    assert "fast" in ex.engine._frozen and ex.engine._frozen["fast"] is None
    assert "tracing" in caplog.text and "eager autocast" in caplog.text
    t, h, w = tiny_model.clip_shape
    frames = np.full((t, h, w, 3), 128, np.uint8)
    _, logits = ex.classify([Clip(index=0, frames=frames, frame_indices=list(range(t)), region=(0, 0, w, h))])
    assert ex.engine._frozen["exact"] is None and "predictions stay in eager mode" in caplog.text
    with torch.inference_mode():
        expected = tiny_model.logits(model_input(tiny_model, frames))
    assert torch.allclose(logits, expected, atol=1e-5)
    assert (out - ex.engine.logits(clips)).abs().max() < 0.05 * max(1.0, float(out.abs().max()))


def test_warmup_prepares_the_perturbed_path(tiny_model, tiny_bank):
    ex = Explainer(tiny_model, tiny_bank, precision="bf16", batch_size=3)
    seconds = ex.warmup()
    assert seconds > 0 and ex.engine._frozen.get("fast") is not None  # traced before any request
    assert ex.engine._frozen.get("exact") is not None
    assert Explainer(tiny_model, tiny_bank, precision="fp32").warmup(max_batch=2) > 0  # eager path warms too


def test_perturbed_clips_are_chunked_to_the_memory_budget():
    from ace3d.models.engine import BYTES_PER_VOXEL, batch_for_budget

    assert batch_for_budget((16, 224, 224), 1200) == 9  # the I3D's config: 8 clip groups + everything removed
    assert batch_for_budget((16, 64, 64), 2048) == 16  # the demo model: capped at 16
    assert batch_for_budget((16, 224, 224), 1) == 1  # never less than one clip
    assert BYTES_PER_VOXEL * 16 * 224 * 224 * 9 <= 1200 * 2**20
