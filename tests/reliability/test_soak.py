"""Soak: concurrency 4 for ACE3D_SOAK_SECONDS (default 45; docs/RELIABILITY.md records longer runs), a mix of
full explanations and classification-only calls. Zero errors, and the worker's resident memory after warm-up
grows by no more than 10%.

Growth compares the peak RSS of the last third of the samples after warm-up with the peak of the first third:
single samples swing by +-10% with the default model (the allocator returns and takes back ~150 MB between
requests), while a leak raises the peaks."""

from __future__ import annotations

import os
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest
from ace3d_client.client import RemoteError
from rel_helpers import record

from ace3d.v1 import explanation_pb2 as pb

pytestmark = pytest.mark.reliability

SECONDS = float(os.environ.get("ACE3D_SOAK_SECONDS", "45"))
CONCURRENCY = 4
MAX_GROWTH = 0.10


def _rss(pid: int) -> int:
    """Resident set size of a process in bytes (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_soak(rel_server, valid_video):
    if not Path("/proc/self/status").is_file():
        pytest.skip("needs Linux /proc to read the worker's memory")
    pid, deaths = rel_server.worker_pid(), rel_server.worker_deaths()
    warmup = max(10.0, SECONDS * 0.25)
    stop = threading.Event()
    lock = threading.Lock()
    latencies: list[tuple[float, str, float]] = []  # (end time, kind, seconds)
    errors: list[str] = []

    def caller(i: int) -> None:
        with rel_server.client(deadline=60) as c:
            n = 0
            while not stop.is_set() and n < 100_000:
                kind = "explain" if (i + n) % 3 == 0 else "classify"
                t0 = time.monotonic()
                try:
                    exp = c.explain(valid_video, pb.ExplainOptions(top_k=2)) if kind == "explain" else \
                        c.classify(valid_video)
                    assert exp.scores, "an answer without scores"
                except (RemoteError, AssertionError) as exc:
                    with lock:
                        errors.append(f"{kind}: {exc}")
                t1 = time.monotonic()
                with lock:
                    latencies.append((t1, kind, t1 - t0))
                n += 1

    samples: list[tuple[float, int]] = []
    t_start = time.monotonic()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        futures = [pool.submit(caller, i) for i in range(CONCURRENCY)]
        try:
            while time.monotonic() - t_start < SECONDS:
                samples.append((time.monotonic() - t_start, _rss(pid)))
                time.sleep(1.0)
        finally:
            stop.set()
            done, pending = wait(futures, timeout=90)
    assert not pending, "a soak caller never returned"
    for f in done:
        f.result()
    elapsed = time.monotonic() - t_start

    after_warmup = [r for t, r in samples if t >= warmup]
    assert len(after_warmup) >= 6, "too short to measure memory: raise ACE3D_SOAK_SECONDS"
    third = len(after_warmup) // 3
    base, end = max(after_warmup[:third]), max(after_warmup[-third:])
    peak = max(after_warmup)
    base_median, end_median = statistics.median(after_warmup[:3]), statistics.median(after_warmup[-3:])
    lat = {k: sorted(s for _, kk, s in latencies if kk == k) for k in ("explain", "classify")}
    figures = {"seconds": round(elapsed, 1), "concurrency": CONCURRENCY, "requests": len(latencies),
               "errors": len(errors), "first_errors": errors[:5], "requests_per_s": round(len(latencies) / elapsed, 2),
               "rss_mb_first_third_peak": round(base / 2**20, 1), "rss_mb_last_third_peak": round(end / 2**20, 1),
               "rss_mb_peak": round(peak / 2**20, 1), "rss_growth": round(end / base - 1, 4),
               "rss_growth_median_of_3": round(end_median / base_median - 1, 4), "rss_samples": len(after_warmup),
               "warmup_s": warmup,
               **{f"{k}_p50_ms": round(1000 * v[len(v) // 2], 1) for k, v in lat.items() if v},
               **{f"{k}_p99_ms": round(1000 * v[min(len(v) - 1, int(len(v) * 0.99))], 1) for k, v in lat.items() if v}}
    record(f"soak_{int(SECONDS)}s", figures)
    assert not errors, figures
    assert rel_server.worker_pid() == pid and rel_server.worker_deaths() == deaths, "the worker restarted"
    assert len(latencies) >= CONCURRENCY * 2
    assert end <= base * (1 + MAX_GROWTH), f"worker RSS grew {end / base - 1:.1%} after warm-up: {figures}"
