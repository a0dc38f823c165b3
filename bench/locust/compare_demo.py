"""`ace3d loadtest` and the Locust run side by side, against one TorchServe with the demo model and its served
configuration (model_store/model-config.yaml), the same clip (the default synthetic one), the same number of
callers in a closed loop (Locust: `--ace3d-wait 0`, one kind of call by `--tags`): calls, errors, throughput and
latency percentiles of each, per mode. A benchmark that reports (docs/PERFORMANCE.md); it asserts nothing.

    PYTHONPATH=. .venv/bin/python bench/locust/compare_demo.py --seconds 30 --users 4 --json out/locust_compare.json
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import serving  # noqa: E402


def locust(target: str, token: str, video: Path, mode: str, users: int, seconds: int, tmp: Path) -> dict:
    prefix = tmp / f"locust_{mode}"
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(ROOT / "bench/locust/locustfile.py"), "--headless",
           "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--stop-timeout", "60", "--host", target,
           "--csv", str(prefix), "--only-summary", "--tags", mode, "--ace3d-wait", "0", "--ace3d-token", token,
           "--ace3d-videos", str(video), "--ace3d-deadline", "60"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    with open(f"{prefix}_stats.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["Name"] == "Aggregated")
    return {"tool": "locust", "mode": mode, "exit": res.returncode, "calls": int(row["Request Count"]),
            "errors": int(row["Failure Count"]), "per_s": round(float(row["Requests/s"]), 1),
            "p50_ms": float(row["50%"]), "p90_ms": float(row["90%"]), "p99_ms": float(row["99%"])}


def loadtest(target: str, token: str, video: Path, mode: str, users: int, seconds: int, tmp: Path) -> dict:
    out = tmp / f"loadtest_{mode}.json"
    cmd = [str(Path(sys.executable).with_name("ace3d")), "loadtest", "--target", target, "--token", token,
           "--video", str(video), "--mode", mode, "--concurrency", str(users), "--duration", str(seconds),
           "--warmup", "--json", str(out), "--model", "demo"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    rep = json.loads(out.read_text()) if out.is_file() else {"stderr": res.stderr[-500:]}
    return {"tool": "ace3d loadtest", "mode": mode, "exit": res.returncode, "report": rep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--json", default="out/locust_compare.json")
    args = ap.parse_args()
    from ace3d.jobs.synth import default_video_bytes
    from ace3d.models import ASSETS
    from ace3d.serving import protocol

    rows = []
    with tempfile.TemporaryDirectory(prefix="locust-compare-") as tmp:
        tmp = Path(tmp)
        video = tmp / "default.mp4"
        video.write_bytes(default_video_bytes())
        config = (ROOT / "model_store/model-config.yaml").read_text()
        with serving(tmp, "demo", ASSETS / "demo_bank.npz", "demo", config, protocol.MAX_MESSAGE_BYTES,
                     "demo") as (server, _):
            token = server.keys()["inference"]
            for mode in ("explain", "classify"):
                for run in (loadtest, locust):
                    t = time.monotonic()
                    rows.append({**run(server.grpc_target, token, video, mode, args.users, args.seconds, tmp),
                                 "wall_s": round(time.monotonic() - t, 1)})
                    print(json.dumps(rows[-1]), flush=True)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"users": args.users, "seconds": args.seconds, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
