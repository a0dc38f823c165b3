"""The local engine on the shared stages: resuming from shards gives the same bank, broken videos are skipped
with their reason, a class left with too few videos is left out, and a shard is never reused stale."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bank_helpers import BROKEN_PARAMS, CLASSES, PARAMS, assert_same_bank, broken_data

from ace3d.errors import Ace3dError
from ace3d.jobs import bank_shards as shards
from ace3d.jobs.bank_plan import make_plan
from ace3d.jobs.build_bank import build, build_local


def test_resume_from_shards_gives_the_same_bank(tiny_model, synth_dir, tmp_path):
    work = tmp_path / "work"
    first = build_local(tiny_model, synth_dir, CLASSES, PARAMS, progress=False, work_dir=work)
    total = first.report.total
    assert total == 2 * 3 + 6 and first.report.computed == total and first.report.resumed == 0
    assert len(list(work.glob("*/*" + shards.SUFFIX))) == total

    again = build_local(tiny_model, synth_dir, CLASSES, PARAMS, progress=False, work_dir=work)
    assert again.report.computed == 0 and again.report.resumed == total
    assert_same_bank(first.bank, again.bank)

    plan = make_plan(tiny_model, synth_dir, CLASSES, PARAMS)
    for job in (plan.randoms[0], plan.classes["move_left"][1]):
        shards.path_of(work, job.key).unlink()
    shards.path_of(work, plan.classes["move_right"][0].key).write_bytes(b"half a shard")  # damaged: redone
    partly = build_local(tiny_model, synth_dir, CLASSES, PARAMS, progress=False, work_dir=work)
    assert partly.report.computed == 3 and partly.report.resumed == total - 3
    assert_same_bank(first.bank, partly.bank)
    assert_same_bank(first.bank, build(tiny_model, synth_dir, CLASSES, PARAMS, progress=False))  # no shards


def test_shard_keys_follow_video_model_and_recipe(tiny_model, synth_dir, tmp_path):
    import dataclasses
    import shutil

    video = tmp_path / "v.mp4"
    shutil.copy(next((synth_dir / "move_up").glob("*.mp4")), video)
    k = shards.key(video, 2, tiny_model, PARAMS)
    assert k == shards.key(video, 2, tiny_model, PARAMS)
    assert k != shards.key(video, 3, tiny_model, PARAMS)
    assert k != shards.key(video, 2, tiny_model, dataclasses.replace(PARAMS, feature_mode="ace"))
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file was replaced
    assert k != shards.key(video, 2, tiny_model, PARAMS)


def test_broken_videos_skipped_and_thin_class_left_out(tiny_model, synth_dir, tmp_path):
    data = broken_data(synth_dir, tmp_path / "data")
    res = build_local(tiny_model, data, params=BROKEN_PARAMS, progress=False)
    skipped = {f"{Path(v).parent.name}/{Path(v).name}": reason for v, reason in res.report.skipped}
    assert set(skipped) == {"move_left/zz_corrupt.mp4", "move_left/zz_empty.mp4", "move_right/zz_corrupt.mp4",
                            "random/zz_truncated.mp4"}, skipped
    assert all(reason.startswith("VideoError: ") for reason in skipped.values()), skipped
    assert "empty" in skipped["move_left/zz_empty.mp4"]
    assert [c for c, _ in res.report.left_out] == ["move_right"]
    assert "1 usable videos of 2" in res.report.left_out[0][1]
    b = res.bank
    assert b.meta["classes_built"] == ["move_left"] and b.meta["videos_per_class"] == {"move_left": 3}
    assert b.meta["random_videos"] == 4
    assert b.meta["classes_left_out"] == ["move_right"]
    assert {s["video"] for s in b.meta["skipped_videos"]} == set(skipped)
    assert set(b.class_index.tolist()) == {tiny_model.class_names.index("move_left")}
    summary = res.report.summary()
    assert "left out class move_right" in summary and "skipped video" in summary


def test_no_usable_class_is_a_clear_error(tiny_model, synth_dir, tmp_path):
    data = broken_data(synth_dir, tmp_path / "data")
    with pytest.raises(Ace3dError, match="no class has enough usable videos"):
        build_local(tiny_model, data, classes=["move_right"], params=BROKEN_PARAMS, progress=False)
