"""The Ray engine against a real local Ray (started once for this module, 2 CPUs, small object store, no
dashboard, always shut down): the same bank as the local engine to the byte, a rerun that resumes from the
shards, a map-stage worker killed in the middle of a run, broken videos, and the command line."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from bank_helpers import CLASSES, PARAMS, assert_same_bank, broken_data, single_threaded

from ace3d.jobs import bank_shards as shards
from ace3d.jobs.bank_plan import make_plan
from ace3d.jobs.build_bank import build_local

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, object_store_memory=80 * 1024**2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    try:
        yield ray
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_bank(tiny_model, synth_dir):
    """The local engine's bank, single-threaded like a one-CPU Ray worker (bank_helpers.single_threaded)."""
    with single_threaded():
        return build_local(tiny_model, synth_dir, CLASSES, PARAMS, progress=False).bank


def _build(tiny_model, tiny_model_json, data, work, **kw):
    from ace3d.jobs.bank_ray import ModelSpec, build_ray

    return build_ray(tiny_model, ModelSpec("demo:" + str(tiny_model_json)), data, work, kw.pop("classes", CLASSES),
                     PARAMS, progress=False, **kw)


def test_same_bank_as_local_then_resume(ray_session, tiny_model, tiny_model_json, synth_dir, local_bank, tmp_path):
    work = tmp_path / "work"
    rows = []
    first = _build(tiny_model, tiny_model_json, synth_dir, work, workers=2, on_video=rows.append)
    assert first.report.computed == first.report.total == 12 and first.report.workers == 2
    # Each video once, in an actor of the pool, never in the driver. How many of the two actors took work is
    # the scheduler's choice (under load one can take all 12), so the test does not count them.
    pids = {r["pid"] for r in rows}
    assert len(rows) == len({r["key"] for r in rows}) == 12 and 1 <= len(pids) <= 2 and os.getpid() not in pids
    assert_same_bank(local_bank, first.bank)

    again = _build(tiny_model, tiny_model_json, synth_dir, work, workers=2)
    assert again.report.computed == 0 and again.report.resumed == 12
    assert_same_bank(local_bank, again.bank)

    plan = make_plan(tiny_model, synth_dir, CLASSES, PARAMS)
    for job in (plan.randoms[2], plan.classes["move_right"][0]):
        shards.path_of(work, job.key).unlink()
    partly = _build(tiny_model, tiny_model_json, synth_dir, work, workers=1)
    assert partly.report.computed == 2 and partly.report.resumed == 10
    assert_same_bank(local_bank, partly.bank)


def test_worker_killed_mid_run(ray_session, tiny_model, tiny_model_json, synth_dir, local_bank, tmp_path):
    killed: list[int] = []
    pids: list[int] = []

    def kill_first(row: dict) -> None:
        pids.append(row["pid"])
        if not killed:  # SIGKILL the actor that just delivered the first video: it is busy with the next
            assert row["pid"] != os.getpid()
            os.kill(row["pid"], signal.SIGKILL)
            killed.append(row["pid"])

    res = _build(tiny_model, tiny_model_json, synth_dir, tmp_path / "work", workers=1, on_video=kill_first)
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)
    later = [p for p in pids[1:] if p != killed[0]]
    assert later, f"no video finished after the kill: {pids}"  # Ray restarted the actor and went on
    assert res.report.computed + res.report.resumed == res.report.total == 12
    assert_same_bank(local_bank, res.bank)


def test_broken_videos_and_cli(ray_session, tiny_model_json, synth_dir, tmp_path, capsys):
    from ace3d.cli import main
    from ace3d.method import bank

    data = broken_data(synth_dir, tmp_path / "data")
    out = tmp_path / "bank.npz"
    rc = main(["build-bank", "--engine", "ray", "--workers", "2", "--model", "demo:" + str(tiny_model_json),
               "--data", str(data), "--out", str(out), "--random-sets", "3", "--clusters", "20",
               "--min-members", "3"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    b = bank.load(out)
    assert b.meta["classes_built"] == ["move_left"] and b.meta["classes_left_out"] == ["move_right"]
    assert len(b.meta["skipped_videos"]) == 4
    assert "engine ray (2 workers)" in printed and "left out class move_right" in printed
    assert printed.count("skipped video ") == 4
    assert Path(str(out.with_suffix(".work"))).is_dir()  # the default work directory, beside the bank
