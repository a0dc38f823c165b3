"""The real-video shortcut set: badge on odd frames only, where its mask says, and the layout the shortcut
benchmark and the adapted I3D's training read."""

import json

import numpy as np
import pytest

from ace3d.errors import Ace3dError
from ace3d.evaluation.shortcut import pairs
from ace3d.jobs import realcue
from ace3d.method.video import read_file, write_mp4


def test_badge_flickers_in_the_corner_of_the_models_crop():
    frames = np.full((4, 60, 100, 3), 40, np.uint8)  # wider than high: the model crops the centred square
    sits = realcue.plant_badge(frames)
    assert sits.shape == (4, 60, 100) and sits.all(0).sum() == sits[0].sum() > 0
    ys, xs = np.nonzero(sits[0])
    assert xs.min() >= 20 and xs.max() < 50 and ys.max() < 30  # the square is x 20-80: its top-left
    changed = (frames != 40).any(-1)
    assert not changed[0::2].any() and (changed[1::2] == sits[1::2]).all()


def _realset(root, clips):
    files = []
    for k, (part, cls) in enumerate(clips):
        name = f"build/{cls or 'random'}/v{k}_00.mp4" if part == "build" else f"heldout/clips/v{k}_00.mp4"
        write_mp4(root / name, np.full((6, 32, 32, 3), 30 + 10 * k, np.uint8), fps=25)
        files.append({"file": name, "video": f"v{k}", "part": part, "classes": [cls] if cls else []})
    (root / "index.json").write_text(json.dumps({"frame_rate": 25, "files": files}))
    return root


def test_layout_pairs_and_shares(tmp_path):
    clips = [("build", "a")] * 3 + [("build", "b")] * 3 + [("build", "c")] + [("build", None)] * 2 + \
        [("heldout", "a"), ("heldout", "b"), ("heldout", "c")]
    rs = _realset(tmp_path / "rs", clips)
    s = realcue.make(rs, tmp_path / "out", "a", min_clips=2, cue_share=(1.0, 0.0), progress=False)
    assert s["classes"] == ["a", "b"] and s["train"] == {"a": 3, "b": 3} and s["random"] == 2
    assert s["train_with_badge"] == {"a": 3, "b": 0} and s["held_out_pairs"] == {"a": 1, "b": 1}
    assert len(list((tmp_path / "out" / "train" / "random").glob("*.mp4"))) == 2  # where build-bank looks
    got = pairs(tmp_path / "out" / "with_cue", tmp_path / "out" / "without_cue", ["a", "b"])
    assert sorted((p.name, label) for p, _, label in got) == [("v10_00.mp4", 1), ("v9_00.mp4", 0)]
    p, q, _ = got[0]
    cue = np.load(p.with_name(p.stem + ".mask.npz"))["cue"]
    assert cue.any() and not np.load(q.with_name(q.stem + ".mask.npz"))["cue"].any()
    with_, without = read_file(p).frames.astype(int), read_file(q).frames.astype(int)
    diff = np.abs(with_ - without).max(-1) > 40
    assert diff[1::2][cue[1::2]].mean() > 0.9 and not diff[0::2].any() and not diff[:, ~cue[0]].any()


def test_badge_only_splits_each_video_of_the_cue_class(tmp_path):
    rs = _realset(tmp_path / "rs", [("build", "a")] * 4 + [("build", "b")] * 2 + [("heldout", "a"), ("heldout", "b")])
    index = json.loads((rs / "index.json").read_text())
    for k, e in enumerate(index["files"][:4]):  # four clips of one video: _00.._03
        new = f"build/a/va_{k:02d}.mp4"
        (rs / e["file"]).rename(rs / new)
        e.update(file=new, video="va")
    (rs / "index.json").write_text(json.dumps(index))
    s = realcue.make(rs, tmp_path / "out", "a", min_clips=2, badge_only=True, progress=False)
    assert s["classes"] == ["badge", "plain"] and s["train"] == {"badge": 2, "plain": 2}
    assert s["train_with_badge"] == {"badge": 2, "plain": 0} and s["held_out_pairs"] == {"badge": 1}
    assert sorted(p.name for p in (tmp_path / "out" / "train" / "badge").glob("*.mp4")) == ["va_00.mp4", "va_02.mp4"]


def test_a_cue_class_without_enough_clips_is_named(tmp_path):
    rs = _realset(tmp_path / "rs", [("build", "a"), ("build", "b"), ("build", "b")])
    with pytest.raises(Ace3dError, match="'a' has fewer than 2 build clips.*classes with enough: b"):
        realcue.make(rs, tmp_path / "out", "a", min_clips=2, progress=False)
