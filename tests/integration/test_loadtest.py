"""`ace3d loadtest` against the session's real TorchServe (see conftest.py): short runs in both modes, through
the CLI, with a wrong key, and bounded by a request count."""

from __future__ import annotations

import json
import socket
import time

import pytest

from ace3d.cli import main
from ace3d.clients.loadtest import LoadTestConfig, loadtest

pytestmark = pytest.mark.integration


def _config(served, video_bytes, **kw) -> LoadTestConfig:
    kw.setdefault("token", served.token)
    kw.setdefault("deadline", 60.0)
    return LoadTestConfig(target=served.grpc_target, video=video_bytes, model=served.model, **kw)


def _check_clean(rep: dict, duration: float, deadline: float) -> None:
    assert rep["requests"] > 0 and rep["ok"] == rep["requests"] and rep["errors"] == {}, rep
    lat = rep["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"], lat
    assert 0 < lat["mean"] <= lat["max"]
    # calls start for `duration` seconds; the last ones then run to their answer, each within the deadline
    assert duration <= rep["duration_s"] <= duration + deadline
    assert rep["throughput_rps"] == pytest.approx(rep["ok"] / rep["duration_s"], rel=1e-3)


def test_loadtest_reports_clean_runs_in_both_modes(served, video_bytes):
    reports = {}
    for mode in ("explain", "classify"):
        t0 = time.monotonic()
        rep = reports[mode] = loadtest(_config(served, video_bytes, mode=mode, concurrency=2, duration=3.0))
        wall = time.monotonic() - t0
        _check_clean(rep, 3.0, 60.0)
        assert rep["duration_s"] <= wall
        assert (rep["target"], rep["model"], rep["mode"], rep["concurrency"]) == \
            (served.grpc_target, served.model, mode, 2)
        json.dumps(rep)  # JSON-able as it is
    # the mode reaches the server: classify-only skips the explanation (more than 10x cheaper when measured)
    assert reports["classify"]["latency_ms"]["p50"] < reports["explain"]["latency_ms"]["p50"]


def test_loadtest_cli_prints_and_writes_the_report(served, video_bytes, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    video.write_bytes(video_bytes)
    out = tmp_path / "report.json"
    rc = main(["loadtest", "--target", served.grpc_target, "--model", served.model, "--video", str(video),
               "--token-file", str(served.server.key_file), "--mode", "classify", "--concurrency", "2",
               "--duration", "2", "--warmup", "--deadline", "30", "--json", str(out)])
    assert rc == 0
    rep = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == rep
    assert rep["mode"] == "classify" and rep["warmup"] == 2 and rep["video_bytes"] == len(video_bytes)
    _check_clean(rep, 2.0, 30.0)


def test_loadtest_counts_a_wrong_key_as_errors_and_stops_on_time(served, video_bytes):
    """TorchServe 0.12 refuses a wrong inference key with PERMISSION_DENIED (not UNAUTHENTICATED)."""
    t0 = time.monotonic()
    cfg = _config(served, video_bytes, token="wrong", concurrency=2, duration=2.0)
    rep = loadtest(cfg)
    wall = time.monotonic() - t0
    assert rep["requests"] > 0 and rep["ok"] == 0
    assert rep["errors"] == {"PERMISSION_DENIED": rep["requests"]}, rep["errors"]
    assert "Token Authorization failed" in rep["error_samples"]["PERMISSION_DENIED"]
    assert rep["throughput_rps"] == 0 and rep["latency_ms"]["p50"] is None
    # the run's documented bound (no call starts after `duration`, none outlives its deadline); that nothing
    # waited for its deadline is the errors check above (no DEADLINE_EXCEEDED), not a wall-clock guess
    assert wall < cfg.duration + cfg.deadline


def test_loadtest_max_requests_bounds_the_count(served, video_bytes):
    t0 = time.monotonic()
    rep = loadtest(_config(served, video_bytes, mode="classify", concurrency=2, duration=120.0, max_requests=3))
    assert rep["requests"] == rep["ok"] == 3 and rep["errors"] == {}
    assert time.monotonic() - t0 < 60  # the count ended the run, not the duration


def test_loadtest_cli_user_errors_are_one_line(tmp_path, capsys):
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cases = [(["--video", str(tmp_path / "missing.mp4")], "video file not found"),
             (["--target", "no-port-here"], "expected HOST:PORT"),
             (["--target", f"127.0.0.1:{port}", "--deadline", "1"], "cannot connect")]
    for extra, message in cases:
        t0 = time.monotonic()
        rc = main(["loadtest", "--duration", "1", "--json", str(tmp_path / "never.json"), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert time.monotonic() - t0 < 30
    assert not (tmp_path / "never.json").exists()
