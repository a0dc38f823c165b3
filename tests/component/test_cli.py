"""The command line as a user meets it: real subprocesses, one-line errors, no partial files."""

import json
import subprocess
import sys

import numpy as np
import pytest


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ace3d.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def model_json(tiny_model_json):
    return tiny_model_json


def test_explain_writes_json_and_overlay(model_json, tiny_bank_path, synth_dir, tmp_path):
    video = sorted((synth_dir / "move_down").glob("*.mp4"))[0]
    r = run("explain", "--model", f"demo:{model_json}", "--bank", tiny_bank_path, video,
            "--json", tmp_path / "e.json", "--overlay", tmp_path / "e.gif")
    assert r.returncode == 0, r.stderr
    assert "prediction:" in r.stdout and "importance" in r.stdout
    data = json.loads((tmp_path / "e.json").read_text())
    assert data["clips"][0]["heatmap"]["dtype"] == "float16"
    assert (tmp_path / "e.gif").read_bytes()[:3] == b"GIF"


@pytest.mark.parametrize("case", ["missing", "corrupt", "empty", "zero_frames", "unknown_class", "other_bank"])
def test_bad_input_is_one_line(case, model_json, tiny_bank_path, synth_dir, tmp_path):
    video = sorted((synth_dir / "move_down").glob("*.mp4"))[0]
    bank = tiny_bank_path
    extra = []
    if case == "missing":
        video = tmp_path / "nope.mp4"
    elif case == "corrupt":
        video = tmp_path / "bad.mp4"
        video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    elif case == "empty":
        video = tmp_path / "empty.mp4"
        video.write_bytes(b"")
    elif case == "zero_frames":
        video = tmp_path / "zero.npy"
        np.save(video, np.zeros((0, 8, 8, 3), np.uint8))
    elif case == "unknown_class":
        extra = ["--target", "fly_away"]
    elif case == "other_bank":
        from ace3d.method import bank as bank_mod

        b = bank_mod.load(tiny_bank_path)
        b.meta["model"]["fingerprint"] = "feedfacefeedface"
        bank = b.save(tmp_path / "other.npz")
    out = tmp_path / "out.json"
    r = run("explain", "--model", f"demo:{model_json}", "--bank", bank, video, "--json", out, *extra)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ace3d explain: error:"), r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_synth_cli(tmp_path):
    r = run("synth", "--out", tmp_path / "s", "--per-class", 1, "--random", 1, "--seed", 4)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "s").rglob("*.mp4"))) == 5


def test_missing_data_dir_is_one_line(model_json, tmp_path):
    r = run("build-bank", "--model", f"demo:{model_json}", "--data", tmp_path / "none", "--out", tmp_path / "b.npz")
    assert r.returncode == 2 and "data directory not found" in r.stderr and "Traceback" not in r.stderr


def test_model_help_lists_every_registered_family():
    from ace3d.models import registry

    r = run("explain", "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "i3d_kinetics400[:PATH]" in text
    for family in registry.FAMILIES.values():
        assert registry.spec_form(family) in text, family.name


@pytest.mark.parametrize(("spec", "problem"), [("nope", "unknown model kind 'nope'"),
                                               ("x3d_s", "needs a checkpoint path: x3d_s:PATH")])
def test_a_wrong_model_fails_before_any_work(spec, problem, tmp_path):
    """No model is loaded and no video read: the error names the option and lists the families."""
    out = tmp_path / "e.json"
    r = run("explain", "--model", spec, tmp_path / "no_such_video.mp4", "--json", out)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ace3d explain: error: argument --model: ") and problem in last, r.stderr
    assert spec != "nope" or "demo[:PATH] | i3d_kinetics400[:PATH]" in last
    assert not out.exists()


def test_evaluate_without_a_data_set_says_what_to_give(tmp_path):
    r = run("evaluate", "--sanity")
    assert r.returncode == 2 and r.stderr.strip() == ("ace3d evaluate: error: --sanity and --shortcut need "
                                                      "--data DIR (for --shortcut: the test set with the cue)")
    r = run("evaluate", "--data", tmp_path, "--shortcut", "move_down")
    assert r.returncode == 2 and "--shortcut CLASS needs --without-cue DIR" in r.stderr
    r = run("evaluate")
    assert r.returncode == 2 and "give --data DIR" in r.stderr


def test_the_thin_client_imports_no_torch():
    """`ace3d client` runs (here: to its one-line error on a missing video) without importing torch."""
    code = ("import sys; from ace3d.cli import main; "
            "rc = main(['client', 'no_such_video.mp4', '--target', '127.0.0.1:1']); "
            "print(rc, sorted(m for m in ('torch', 'skimage') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.split() == ["2", "[]"], r.stdout + r.stderr
    assert "ace3d client: error: video file not found" in r.stderr


def test_evaluate_compares_methods_in_one_table(tiny_model_json, tiny_bank_path, synth_dir, tmp_path):
    out = tmp_path / "methods.json"
    proc = run("evaluate", "--model", f"demo:{tiny_model_json}", "--bank", tiny_bank_path, "--data", synth_dir,
                "--limit", "1", "--methods", "ace,occlusion", "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "top-1 deletion" in proc.stdout and "occlusion" in proc.stdout.splitlines()[0]
    res = json.loads(out.read_text())
    assert set(res) == {"ace", "occlusion"} and res["ace"]["videos"] == res["occlusion"]["videos"] > 0
    bad = run("evaluate", "--model", f"demo:{tiny_model_json}", "--bank", tiny_bank_path, "--data", synth_dir,
               "--methods", "nope")
    assert bad.returncode == 2 and "unknown explanation method 'nope'" in bad.stderr
