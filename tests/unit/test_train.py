"""The pieces `ace3d train` adds for the no_motion class and fine-tuning."""

import json

import numpy as np
import torch

from ace3d import models
from ace3d.jobs.synth import CLASSES, SynthConfig, generate
from ace3d.jobs.train import data_label, init_from, load_clips, still_clips


def test_still_clips_hold_one_frame_with_bounded_noise():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 5, 8, 8, 3), dtype=np.uint8)
    s = still_clips(x, rng, noise=3.0)
    assert s.shape == x.shape and s.dtype == np.uint8
    for clip in s.astype(np.int16):
        # every frame is the same held frame up to the noise (5 sigma of 3 grey levels, plus rounding)
        assert np.abs(clip - clip.mean(0, keepdims=True)).max() <= 16
    assert (still_clips(x, rng, noise=0.0).astype(np.int16).std(axis=1) == 0).all()  # noise 0: bit-identical


def test_init_from_copies_equal_shapes_and_keeps_old_rows_of_a_grown_head(tiny_model_json):
    old = models.load(f"demo:{tiny_model_json}")
    cfg = json.loads(tiny_model_json.read_text())
    n = len(cfg["class_names"])
    net = models.build_x3d(num_classes=n + 1, **cfg["builder"])
    fresh = init_from(net, f"demo:{tiny_model_json}")
    state, src = net.state_dict(), old.net.state_dict()
    assert fresh == [f"blocks.5.proj.weight[{n}:]", f"blocks.5.proj.bias[{n}:]"]
    assert torch.equal(state["blocks.5.proj.weight"][:n], src["blocks.5.proj.weight"])
    assert torch.equal(state["blocks.0.conv.conv_t.weight"], src["blocks.0.conv.conv_t.weight"])


def test_several_training_sets_are_loaded_one_after_the_other(tmp_path):
    a = generate(tmp_path / "a", per_class=1, seed=5, n_random=0, progress=False)
    b = generate(tmp_path / "b", per_class=2, seed=6, n_random=0, cfg=SynthConfig(look="random"), progress=False)
    xa, ya = load_clips(a, (16, 32, 32), list(CLASSES), progress=False)
    xb, yb = load_clips(b, (16, 32, 32), list(CLASSES), progress=False)
    x, y = load_clips([a, b], (16, 32, 32), list(CLASSES), progress=False)
    assert len(x) == len(xa) + len(xb) == 12
    assert np.array_equal(x[:4], xa) and np.array_equal(x[4:], xb)
    assert np.array_equal(y, np.concatenate([ya, yb]))
    assert data_label([a, b]) == f"{a} {b}" and data_label(a) == str(a)
