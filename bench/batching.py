"""What TorchServe's batching buys the served explainer: batchSize 1 against batchSize 4, interleaved in one run.

One TorchServe serves the same model and bank twice, as two models whose archives differ only in batchSize
(both pack model_store/model-config.yaml, one worker each), so both see the same machine at the same moment.
For each round, each mode and each concurrency, one headless Locust run (bench/locust/headless.py: the
locustfile's users in a closed loop, one call kind by its tag, the default synthetic clip) goes against one
model and then the other (the order flips every round); the report gives, per cell, the median over rounds
of throughput and latency percentiles, per pair the ratios batchSize 4 / batchSize 1, the server's CPU time
per call counted by Locust, plus the ace3d_batch_size histogram's mean per model (did requests really share
batches?).

Warm-up: before the rounds, a few calls of each mode per model with the Python client (ace3d_client), one at
a time, so that first-call costs (the first forwards, the worker's first allocations) land in no run; a Locust
run of its own per model would cost seconds of Locust start-up for the same effect.

    PYTHONPATH=.:clients/python .venv/bin/python bench/batching.py --rounds 3 --seconds 10 --json out/batching.json

It asserts nothing; it prints the JSON and a Markdown table for docs/PERFORMANCE.md."""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ace3d_client import Ace3dClient  # noqa: E402

from ace3d.jobs.synth import default_video_bytes  # noqa: E402
from ace3d.method.bank import path_for  # noqa: E402
from ace3d.tooling.archive import build_archive  # noqa: E402
from ace3d.tooling.server import LocalServer, Ports  # noqa: E402
from bench.locust.headless import run_locust  # noqa: E402

BATCH_SIZES = (1, 4)
WARMUP_CALLS = 2  # per mode and model, before the rounds
DEADLINE = 60.0  # seconds per call, as before


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


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the processes of a process group: the server's frontend
    and workers. CPU per request barely moves when other jobs share the machine, unlike wall times."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state (field 3 of proc(5)); pgrp is field 5
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def warm_up(target: str, token: str, models: list[str], modes: list[str], video: bytes) -> None:
    """WARMUP_CALLS calls of each mode to each model, one at a time, answers discarded: first-call costs
    belong to no measured run."""
    for model in models:
        with Ace3dClient(target, model, token=token, deadline=DEADLINE) as client:
            for mode in modes:
                call = client.classify if mode == "classify" else client.explain
                for _ in range(WARMUP_CALLS):
                    call(video)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="demo", help="model spec (default: the committed demo model and bank)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds per Locust run (whole seconds)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--modes", nargs="+", choices=["explain", "classify"], default=["explain", "classify"])
    ap.add_argument("--json", default=None)
    ap.add_argument("--summarise", default=None, metavar="JSON", help="print the tables of an earlier run's JSON")
    args = ap.parse_args()
    if args.summarise:
        report = json.loads(Path(args.summarise).read_text())
        report.update(summarise(report["runs"]))
        print_tables(report)
        return

    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="ace3d-batching-") as tmp:
        video_bytes = default_video_bytes()
        video = Path(tmp) / "default.mp4"  # Locust reads its videos from files
        video.write_bytes(video_bytes)
        store = Path(tmp) / "store"
        names = {b: f"batch{b}" for b in BATCH_SIZES}
        for b, name in names.items():
            build_archive(args.model, path_for(args.model, None), name, store, device="cpu", batch_size=b,
                          workers=1)
        server = LocalServer(runtime=Path(tmp) / "runtime", model_store=store,
                             models={n: f"{n}.mar" for n in names.values()}, ports=Ports.free())
        server.start(timeout=300)
        pgid = server._pgid()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on `kill` too
        try:
            token = server.keys()["inference"]
            warm_up(server.grpc_target, token, list(names.values()), args.modes, video_bytes)
            for r in range(args.rounds):
                order = list(BATCH_SIZES) if r % 2 == 0 else list(reversed(BATCH_SIZES))
                for mode in args.modes:
                    for conc in args.concurrency:
                        for b in order:
                            cpu0 = group_cpu_seconds(pgid)
                            rep = run_locust(target=server.grpc_target, users=conc, seconds=args.seconds,
                                             tags=[mode], model=names[b], token=token, videos=[video], wait=0.0,
                                             deadline=DEADLINE, csv_prefix=Path(tmp) / f"r{r}_{mode}_{conc}_{b}")
                            ok = rep["calls"] - rep["failures"]
                            row = {"round": r, "mode": mode, "concurrency": conc, "batch_size": b,
                                   "ok": ok, "errors": rep["failures"], "error_kinds": rep["errors"],
                                   "locust_exit": rep["exit_code"],
                                   # answered calls per second: Locust's requests/s less the failed share
                                   "rps": rep["rps"] * ok / rep["calls"] if rep["calls"] else 0.0,
                                   **{k: rep[f"{k}_ms"] for k in ("p50", "p90", "p99")}}
                            if rep["calls"]:  # server CPU per call Locust counted (the warm-up is not in it)
                                row["cpu_ms"] = 1000 * (group_cpu_seconds(pgid) - cpu0) / rep["calls"]
                            results.append(row)
                            print(json.dumps(row), flush=True)
            means = batch_size_means(server.metrics_url, list(names.values()))
        finally:
            server.stop()

    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "seconds": args.seconds,
              "rounds": args.rounds, "mean_batch_size": means, "runs": results}
    report.update(summarise(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=1))
    print_tables(report)


def _count(errors: int | dict[str, int]) -> int:
    """Failed calls of a run: a count (Locust), or by status code (JSON of runs before 2026-12-04)."""
    return sum(errors.values()) if isinstance(errors, dict) else errors


def summarise(runs: list[dict]) -> dict:
    """Per cell (mode, concurrency, batch size): medians over rounds; per pair (the two batch sizes run one
    after the other in a round): the ratios batchSize 4 / batchSize 1, whose median is the least noisy figure
    on a shared machine."""
    key = lambda x: (x["mode"], x["concurrency"])  # noqa: E731
    cells, ratios = [], []
    for mode, conc in dict.fromkeys(key(x) for x in runs):
        for b in BATCH_SIZES:
            rows = [x for x in runs if key(x) == (mode, conc) and x["batch_size"] == b and x["ok"]]
            if rows:
                cells.append({"mode": mode, "concurrency": conc, "batch_size": b, "rounds": len(rows),
                              "ok": sum(x["ok"] for x in rows), "errors": sum(_count(x["errors"]) for x in rows),
                              **{k: statistics.median(x[k] for x in rows if k in x)
                              for k in ("rps", "p50", "p90", "p99", "cpu_ms") if any(k in x for x in rows)}})
        pairs = [(a, b) for a in runs for b in runs if key(a) == key(b) == (mode, conc) and a["round"] == b["round"]
                 and a["batch_size"] == BATCH_SIZES[0] and b["batch_size"] == BATCH_SIZES[1] and a["ok"] and b["ok"]]
        if pairs:
            ratios.append({"mode": mode, "concurrency": conc, "pairs": len(pairs),
                           **{f"{k}_ratio": statistics.median(b[k] / a[k] for a, b in pairs)
                              for k in ("rps", "p50", "p90", "cpu_ms") if k in pairs[0][0]}})
    return {"cells": cells, "ratios": ratios}


def print_tables(report: dict) -> None:
    print("\n| mode | concurrency | batchSize | calls | errors | throughput | p50 | p90 | p99 | server CPU/call |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for c in report["cells"]:
        print(f"| {c['mode']} | {c['concurrency']} | {c['batch_size']} | {c['ok']} | {c['errors']} | "
              f"{c['rps']:.2f} /s | {c['p50']:.0f} ms | {c['p90']:.0f} ms | {c['p99']:.0f} ms | "
              f"{c.get('cpu_ms', float('nan')):.0f} ms |")
    print("\n| mode | concurrency | pairs | throughput 4/1 | p50 4/1 | p90 4/1 | server CPU/call 4/1 |")
    print("|---|---|---|---|---|---|---|")
    for r in report["ratios"]:
        print(f"| {r['mode']} | {r['concurrency']} | {r['pairs']} | {r['rps_ratio']:.2f} | {r['p50_ratio']:.2f} | "
              f"{r['p90_ratio']:.2f} | {r.get('cpu_ms_ratio', float('nan')):.2f} |")
    means = report.get("mean_batch_size", {})
    print(f"\nmean requests per handler call: {json.dumps(means)}")


if __name__ == "__main__":
    main()
