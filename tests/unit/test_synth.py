from dataclasses import replace

import numpy as np
import pytest

from ace3d.datasets import list_videos, mask_path
from ace3d.jobs.synth import CLASSES, DIRECTIONS, generate, render
from ace3d.method.video import read_file


def test_deterministic_and_motion_matches_class():
    a, ma = render(np.random.default_rng([1, 2]), DIRECTIONS["move_right"])
    b, mb = render(np.random.default_rng([1, 2]), DIRECTIONS["move_right"])
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    for cls, (dx, dy) in DIRECTIONS.items():
        _, m = render(np.random.default_rng(5), (dx, dy))
        vis = [i for i in range(len(m)) if m[i].any()]
        c0 = np.argwhere(m[vis[0]]).mean(0)
        c1 = np.argwhere(m[vis[-1]]).mean(0)
        move = c1 - c0  # (dy, dx)
        assert np.sign(round(move[1])) == dx or dx == 0, cls
        assert np.sign(round(move[0])) == dy or dy == 0, cls


def test_generate_layout(tmp_path):
    generate(tmp_path, per_class=1, seed=0, n_random=2, progress=False)
    vids = list_videos(tmp_path)
    assert sorted(vids) == sorted(CLASSES)
    v = vids["move_up"][0]
    mask = np.load(mask_path(v), allow_pickle=False)["mask"]
    assert mask.dtype == bool and mask.shape == (16, 112, 112) and mask.any()
    assert read_file(v).frames.shape == (16, 112, 112, 3)
    assert len(list((tmp_path / "random").glob("*.mp4"))) == 2


def test_same_seed_same_files(tmp_path):
    """A data set is reproducible to the byte: evaluation and benchmark figures quote `ace3d synth` commands.
    (libx264 encoded the same frames differently now and then here; write_mp4 turns off what did it.)"""
    for d in ("a", "b"):
        generate(tmp_path / d, per_class=2, seed=3, n_random=0, progress=False)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.mp4"))
    assert len(files) == 2 * len(CLASSES)
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


def test_cue_is_planted_mostly_in_its_class_and_swaps_with_the_same_seed(tmp_path):
    from ace3d.jobs.synth import CLASSES, SynthConfig, cue_mask, generate, has_cue
    from ace3d.method.video import read_file

    cfg = SynthConfig(cue="move_right", cue_share=(0.9, 0.05))
    shares = {c: np.mean([has_cue(cfg, c, 5, k) for k in range(400)]) for c in CLASSES}
    assert shares["move_right"] > 0.8 and all(shares[c] < 0.15 for c in CLASSES if c != "move_right")
    small = SynthConfig(size=48)
    generate(tmp_path / "with", per_class=1, seed=5, n_random=0, cfg=replace(small, cue="all"), progress=False)
    generate(tmp_path / "without", per_class=1, seed=5, n_random=0, cfg=replace(small, cue="none"), progress=False)
    name = "move_up/move_up_5_0000"
    a = read_file(tmp_path / "with" / f"{name}.mp4").frames.astype(int)
    b = read_file(tmp_path / "without" / f"{name}.mp4").frames.astype(int)
    where = cue_mask(48, len(a))
    diff = np.abs(a - b).max(-1)
    assert diff[1][where[1]].mean() > 60 and diff[0][where[0]].mean() < 15  # on in odd frames only
    assert diff[:, ~where[0]].mean() < 3  # elsewhere the same video
    saved = np.load(tmp_path / "with" / f"{name}.mask.npz")
    assert np.array_equal(saved["cue"], where) and not np.load(tmp_path / "without" / f"{name}.mask.npz")["cue"].any()


def test_unknown_cue_is_refused(tmp_path):
    from ace3d.errors import OptionsError
    from ace3d.jobs.synth import SynthConfig, generate

    with pytest.raises(OptionsError, match="unknown cue 'jump'"):
        generate(tmp_path, per_class=1, cfg=SynthConfig(cue="jump"), progress=False)
