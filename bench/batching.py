"""What TorchServe's batching buys the served explainer: batchSize 1 against batchSize 4, interleaved in one run.

One TorchServe serves the same model and bank twice, as two models whose archives differ only in batchSize
(both pack model_store/model-config.yaml, one worker each), so both see the same machine at the same moment.
For each round, each concurrency and each mode, `ace3d loadtest` runs against one model and then the other
(the order flips every round); the report gives, per cell, the median over rounds of throughput and latency
percentiles, plus the ace3d_batch_size histogram's mean per model (did requests really share batches?).

    PYTHONPATH=. .venv/bin/python bench/batching.py --rounds 3 --seconds 10 --json out/batching.json

It asserts nothing; it prints the JSON and a Markdown table for docs/PERFORMANCE.md."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ace3d.jobs.synth import default_video_bytes  # noqa: E402
from ace3d.method.bank import path_for  # noqa: E402
from ace3d.serving.archive import build_archive  # noqa: E402
from ace3d.serving.loadtest import LoadTestConfig, loadtest  # noqa: E402
from ace3d.serving.server import LocalServer, Ports  # noqa: E402

BATCH_SIZES = (1, 4)


def batch_size_means(metrics_url: str, models: list[str]) -> dict[str, float]:
    """Mean requests per handler call, per model, from the ace3d_batch_size histogram's _sum / _count."""
    text = urllib.request.urlopen(metrics_url, timeout=10).read().decode()
    sums: dict[str, dict[str, float]] = {m: {} for m in models}
    for line in text.splitlines():
        if line.startswith("ace3d_batch_size_") and not line.startswith("ace3d_batch_size_bucket"):
            name = line.split("{", 1)[0].rsplit("_", 1)[1]
            for m in models:
                if f'ModelName="{m}"' in line:
                    sums[m][name] = float(line.rsplit(" ", 1)[1])
    return {m: s["sum"] / s["count"] for m, s in sums.items() if s.get("count")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo", help="model spec (default: the committed demo model and bank)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per load test")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--modes", nargs="+", default=["explain", "classify"])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    video = default_video_bytes()
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ace3d-batching-") as tmp:
        store = Path(tmp) / "store"
        names = {b: f"batch{b}" for b in BATCH_SIZES}
        for b, name in names.items():
            build_archive(args.model, path_for(args.model, None), name, store, device="cpu", batch_size=b,
                          workers=1)
        server = LocalServer(runtime=Path(tmp) / "runtime", model_store=store,
                             models={n: f"{n}.mar" for n in names.values()}, ports=Ports.free())
        server.start(timeout=300)
        try:
            token = server.keys()["inference"]
            for r in range(args.rounds):
                order = list(BATCH_SIZES) if r % 2 == 0 else list(reversed(BATCH_SIZES))
                for mode in args.modes:
                    for conc in args.concurrency:
                        for b in order:
                            rep = loadtest(LoadTestConfig(target=server.grpc_target, video=video, model=names[b],
                                                          mode=mode, concurrency=conc, duration=args.seconds,
                                                          warmup=conc, token=token))
                            row = {"round": r, "mode": mode, "concurrency": conc, "batch_size": b,
                                   "ok": rep["ok"], "errors": rep["errors"], "rps": rep["throughput_rps"],
                                   **{k: rep["latency_ms"][k] for k in ("p50", "p90", "p99")}}
                            results.append(row)
                            print(json.dumps(row), flush=True)
            means = batch_size_means(server.metrics_url, list(names.values()))
        finally:
            server.stop()

    cells = []
    for mode in args.modes:
        for conc in args.concurrency:
            for b in BATCH_SIZES:
                rows = [x for x in results if (x["mode"], x["concurrency"], x["batch_size"]) == (mode, conc, b)]
                cells.append({"mode": mode, "concurrency": conc, "batch_size": b, "rounds": len(rows),
                              "ok": sum(x["ok"] for x in rows), "errors": sum(sum(x["errors"].values()) for x in rows),
                              **{k: statistics.median(x[k] for x in rows) for k in ("rps", "p50", "p90", "p99")}})
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": args.seconds,
              "rounds": args.rounds, "mean_batch_size": means, "cells": cells, "runs": results}
    text = json.dumps(report, indent=1)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(text)
    print("\n| mode | concurrency | batchSize | calls | errors | throughput | p50 | p90 | p99 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for c in cells:
        print(f"| {c['mode']} | {c['concurrency']} | {c['batch_size']} | {c['ok']} | {c['errors']} | "
              f"{c['rps']:.1f} /s | {c['p50']:.0f} ms | {c['p90']:.0f} ms | {c['p99']:.0f} ms |")
    print(f"\nmean requests per handler call: {json.dumps(means)}")


if __name__ == "__main__":
    main()
