"""The Kinetics-400 I3D family: DeepMind's own sample clip is 'playing cricket' (a wrong port, e.g. BGR or H/W
swapped, drops it to about 0.79), and the checkpoint reader runs no code. Needs `make weights` (make test does)."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from ace3d import models
from ace3d.errors import ModelError
from ace3d.method.video import make_clips, read_file
from ace3d.models.engine import ForwardEngine, model_input
from ace3d.models.i3d_weights import read_checkpoint

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "v_CricketShot_g04_c01_rgb.gif"


@pytest.fixture(scope="module")
def i3d():
    return models.load("i3d_kinetics400")


def test_sample_clip_is_playing_cricket(i3d):
    """DeepMind's protocol: all 79 frames of the sample at once (the net is convolutional in time)."""
    assert len(i3d.class_names) == 400 and i3d.layer == "Mixed_4f" and i3d.clip_shape == (16, 224, 224)
    frames = read_file(SAMPLE).frames
    assert frames.shape == (79, 224, 224, 3)
    with torch.inference_mode():
        probs = i3d.logits(model_input(i3d, frames)).softmax(1)[0]
    top = int(probs.argmax())
    assert i3d.class_names[top] == "playing cricket"
    assert float(probs[top]) >= 0.95


def test_the_served_clip_is_playing_cricket_too(i3d):
    """What the explainer feeds it: one 16-frame window at 25 fps, from the middle of the video."""
    clip = make_clips(read_file(SAMPLE), i3d.clip_shape, frame_rate=i3d.frame_rate)[0]
    assert clip.frame_indices == list(range(32, 48))
    _, logits = ForwardEngine(i3d).classify([clip.frames])
    assert i3d.class_names[int(logits[0].argmax())] == "playing cricket"


def test_checkpoint_reader_allows_numpy_arrays_only():
    arrays = {"params": {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}, "batch_stats": {}}
    back = read_checkpoint(pickle.dumps(arrays, protocol=4))
    assert np.array_equal(back["params"]["w"], arrays["params"]["w"])

    class Evil:
        def __reduce__(self):
            return (print, ("code ran",))

    # "builtins.print", or ray's replacement for it once ray was imported in this process
    with pytest.raises(ModelError, match=r"refusing to unpickle \S*print"):
        read_checkpoint(pickle.dumps({"params": Evil(), "batch_stats": {}}, protocol=4))
    with pytest.raises(ModelError, match="not"):
        read_checkpoint(pickle.dumps({"weights": 1}, protocol=4))


def test_weights_are_checked_against_their_checksum(tmp_path, i3d):
    import torch

    bad = tmp_path / "i3d_kinetics400.pt"
    torch.save({"x": torch.zeros(1)}, bad)
    bad.with_suffix(".sha256").write_text("0" * 64 + "\n")
    with pytest.raises(ModelError, match="does not match its checksum"):
        models.load(f"i3d_kinetics400:{bad}")
    with pytest.raises(ModelError, match="make weights"):
        models.load(f"i3d_kinetics400:{tmp_path / 'missing.pt'}")
