"""The Locust load test (bench/locust/locustfile.py) runs headless for a few seconds against the test server:
every call kind and video is exercised, none fails, and the CSV statistics it writes read back."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "bench" / "locust" / "locustfile.py"
sys.path.insert(0, str(LOCUSTFILE.parent))
from headless import run_locust  # noqa: E402

GIF = ROOT / "tests" / "data" / "v_CricketShot_g04_c01_rgb.gif"


def test_headless_locust_run_without_failures(served, video_bytes, tmp_path):
    """Through bench/locust/headless.py, the way bench/batching.py runs it: statistics read back from the CSV."""
    synthetic = tmp_path / "synthetic.mp4"
    synthetic.write_bytes(video_bytes)
    videos = [GIF, synthetic, *sorted((ROOT / "data" / "real").glob("*.mp4"))]
    videos = [v for v in videos if v.stat().st_size <= served.max_bytes]  # the test server's 1 MiB limit
    res = run_locust(target=served.grpc_target, users=2, seconds=8, csv_prefix=tmp_path / "run", model=served.model,
                     token=served.token, videos=videos, wait=0.1, deadline=60)
    assert res["exit_code"] == 0 and res["errors"] == {}, res
    assert res["calls"] > 0 and res["failures"] == 0 and res["p50_ms"] > 0
    kinds = {name.split(" ", 1)[0] for name in res["names"]}
    assert "classify" in kinds and kinds <= {"classify", "explain", "stream"}
    assert sum(n["calls"] for n in res["names"].values()) == res["calls"]
    assert all(n["p50_ms"] > 0 for n in res["names"].values())
    with open(tmp_path / "run_failures.csv") as f:
        assert list(csv.DictReader(f)) == []


def test_a_missing_video_stops_the_run_with_its_name(served, tmp_path):
    with pytest.raises(RuntimeError, match=r"nothing-\*\.mp4"):
        run_locust(target=served.grpc_target, users=1, seconds=3, csv_prefix=tmp_path / "run", model=served.model,
                   token=served.token, videos=[tmp_path / "nothing-*.mp4"])
