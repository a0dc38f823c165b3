"""Locust against the model as it is served: one TorchServe with the model's archive and served configuration
(model_store/model-config.yaml for the demo model, model-config-i3d.yaml for the I3D, its bank where one ships),
then one headless Locust run per call kind, each `--seconds` long with `--users` callers in a closed loop over
the locustfile's default videos (the UCF-101 clip and `make realdata`'s three). A benchmark that reports
(docs/PERFORMANCE.md section 4); it asserts nothing.

    PYTHONPATH=. .venv/bin/python bench/locust/served_figures.py --model demo --seconds 60 --users 4 --json OUT
    PYTHONPATH=. .venv/bin/python bench/locust/served_figures.py --model i3d_kinetics400 --seconds 120 --users 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ace3d.serving import protocol  # noqa: E402
from ace3d.tooling.archive import build_archive  # noqa: E402
from ace3d.tooling.server import LocalServer, Ports  # noqa: E402
from bench.locust.headless import run_locust  # noqa: E402

CONFIGS = {"demo": "model-config.yaml", "i3d_kinetics400": "model-config-i3d.yaml"}
BANKS = {"demo": ROOT / "ace3d" / "assets" / "demo_bank.npz",  # what `make serve` packs (serve.mk)
         "i3d_kinetics400": ROOT / "ace3d" / "assets" / "i3d_kinetics400_bank.npz"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="demo", choices=sorted(CONFIGS))
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds per Locust run")
    ap.add_argument("--users", type=int, default=4, help="callers, each in a closed loop")
    ap.add_argument("--kinds", nargs="+", default=["classify", "explain", "stream"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory(prefix="locust-served-") as tmp:
        store = Path(tmp) / "store"
        archive = build_archive(args.model, BANKS[args.model], "served", store,
                                config=ROOT / "model_store" / CONFIGS[args.model], device="cpu")
        server = LocalServer(runtime=Path(tmp) / "runtime", model_store=store, models={"served": archive.name},
                             ports=Ports.free(), overrides={"max_request_size": str(protocol.MAX_MESSAGE_BYTES)})
        t0 = time.monotonic()
        server.start(timeout=900)
        try:
            print(f"server ready in {time.monotonic() - t0:.1f} s", flush=True)
            token = server.keys()["inference"]
            for kind in args.kinds:
                res = run_locust(target=server.grpc_target, users=args.users, seconds=args.seconds,
                                 csv_prefix=Path(tmp) / f"locust_{kind}", tags=[kind], model="served", token=token,
                                 wait=0, deadline=120)
                rows.append({"kind": kind, **{k: v for k, v in res.items() if k != "names"}})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            server.stop()
    report = {"model": args.model, "users": args.users, "seconds": args.seconds, "cpus": os.cpu_count(),
              "loadavg_1m_at_end": os.getloadavg()[0], "rows": rows}
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    print("\n| call | calls | failures | throughput | p50 | p90 | p99 |\n|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['kind']} | {r['calls']} | {r['failures']} | {r['rps']:.2f} /s | {r['p50_ms']:.0f} ms | "
              f"{r['p90_ms']:.0f} ms | {r['p99_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
