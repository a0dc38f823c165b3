"""The Locust load test (bench/locust/locustfile.py) runs headless for a few seconds against the test server:
every call kind and video is exercised, none fails, and the CSV statistics it writes read back."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "bench" / "locust" / "locustfile.py"
GIF = ROOT / "tests" / "data" / "v_CricketShot_g04_c01_rgb.gif"


def test_headless_locust_run_without_failures(served, video_bytes, tmp_path):
    synthetic = tmp_path / "synthetic.mp4"
    synthetic.write_bytes(video_bytes)
    videos = [GIF, synthetic, *sorted((ROOT / "data" / "real").glob("*.mp4"))]
    videos = [v for v in videos if v.stat().st_size <= served.max_bytes]  # the test server's 1 MiB limit
    prefix = tmp_path / "run"
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless", "-u", "2", "-r", "2",
           "-t", "8s", "--stop-timeout", "120", "--host", served.grpc_target, "--csv", str(prefix), "--only-summary",
           "--ace3d-model", served.model, "--ace3d-token", served.token, "--ace3d-deadline", "60",
           "--ace3d-videos", ",".join(str(v) for v in videos)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, f"locust exited {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-5000:]}"

    with open(f"{prefix}_stats.csv") as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["Name"] == "Aggregated")
    named = [r for r in rows if r["Name"] != "Aggregated"]
    assert int(total["Request Count"]) > 0 and int(total["Failure Count"]) == 0, total
    assert {r["Type"] for r in named} == {"grpc"}
    assert {r["Name"].split(" ", 1)[0] for r in named} <= {"classify", "explain", "stream"}
    assert "classify" in {r["Name"].split(" ", 1)[0] for r in named}
    assert all(float(r["Average Response Time"]) > 0 for r in named)
    with open(f"{prefix}_failures.csv") as f:
        assert list(csv.DictReader(f)) == []


def test_a_missing_video_stops_the_run_with_its_name(served, tmp_path):
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless", "-u", "1", "-r", "1",
           "-t", "3s", "--host", served.grpc_target, "--ace3d-token", served.token,
           "--ace3d-videos", str(tmp_path / "nothing-*.mp4")]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode != 0
    assert "nothing-*.mp4" in res.stdout + res.stderr
