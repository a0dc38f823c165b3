"""One headless run of the Locust load test (bench/locust/locustfile.py) from Python, read back as plain values.

Why a subprocess: Locust monkey-patches the standard library with gevent when it is imported, which a caller
that also runs a server, threads or its own gRPC channels must not get; the `locust` command next to
sys.executable is the one the project's venv installs. Why the CSV: it is Locust's own report of the run,
what a person running the same command would read, so a benchmark and a person see the same figures.

What Locust counts differs from a home-made loop in two ways worth knowing when figures are compared: its
latency percentiles cover every call, failed ones too, rounded as Locust rounds them (2 significant digits
above 100 ms); and its requests/s is calls over the time from the run's start to its last call."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypedDict

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")


class Stats(TypedDict):
    """One row of Locust's `_stats.csv`: a request name (`KIND VIDEO`), or the aggregate of all of them."""

    calls: int  # requests counted, failed ones included
    failures: int
    rps: float  # calls per second over the run
    p50_ms: float | None  # None when no call was counted
    p90_ms: float | None
    p99_ms: float | None


class Result(Stats):
    """The aggregate row, Locust's exit status, each name's row and the failures by error."""

    exit_code: int  # 0: no call failed; 1: some call failed (Locust's rule); other: the run itself went wrong
    names: dict[str, Stats]  # by request name, `KIND VIDEO` (the locustfile's naming)
    errors: dict[str, int]  # `NAME: ERROR` -> occurrences, from `_failures.csv`


def _ms(value: str) -> float | None:
    return None if value in ("", "N/A") else float(value)


def _stats(row: dict[str, str]) -> Stats:
    return Stats(calls=int(row["Request Count"]), failures=int(row["Failure Count"]), rps=float(row["Requests/s"]),
                 p50_ms=_ms(row["50%"]), p90_ms=_ms(row["90%"]), p99_ms=_ms(row["99%"]))


def run_locust(*, target: str, users: int, seconds: float, csv_prefix: str | Path, tags: Sequence[str] = (),
               model: str = "demo", token: str | None = None, videos: Sequence[str | Path] = (),
               wait: float = 0.0, deadline: float = 60.0) -> Result:
    """Run the locustfile headless against `target` (gRPC HOST:PORT) and return its statistics.

    `users` callers start at once and run for `seconds` (Locust counts whole seconds: rounded, at least 1);
    `tags` keeps those call kinds (classify, explain, stream; empty: the locustfile's 3 : 1 : 1 mix); `videos`
    are files (empty: the locustfile's default mix); `wait` 0 is a closed loop, each user calling again as soon
    as it is answered. A call in flight when the time is up runs to its answer or its `deadline` (Locust's stop
    timeout is set past it), so the slowest calls are not cut from the percentiles. The CSV files stay at
    `csv_prefix` (`_stats.csv`, `_failures.csv`, ...). Raises RuntimeError when Locust wrote no statistics
    (bad arguments, a video pattern that matches nothing), with the end of its output."""
    prefix = Path(csv_prefix).resolve()
    prefix.parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless",
           "-u", str(users), "-r", str(users), "-t", f"{max(1, round(seconds))}s",
           "--stop-timeout", str(math.ceil(deadline) + 5), "--host", target, "--csv", str(prefix),
           "--only-summary", "--ace3d-model", model, "--ace3d-wait", str(wait), "--ace3d-deadline", str(deadline)]
    if token:
        cmd += ["--ace3d-token", token]
    if videos:
        cmd += ["--ace3d-videos", ",".join(str(Path(v).resolve()) for v in videos)]
    if tags:
        cmd += ["--tags", *tags]
    # the caller's cwd: relative PYTHONPATHs hold; a run that outlives its time, stop timeout and start-up by
    # far has hung, and raises subprocess.TimeoutExpired instead of waiting forever
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + deadline + 300)
    stats_csv = Path(f"{prefix}_stats.csv")
    rows = []
    if stats_csv.is_file():
        with stats_csv.open() as f:
            rows = list(csv.DictReader(f))
    total = next((r for r in rows if r["Name"] == "Aggregated"), None)
    # a locustfile that refuses its options still leaves an empty statistics file: failed with no call counted
    if total is None or (res.returncode != 0 and int(total["Request Count"]) == 0):
        raise RuntimeError(f"locust exited {res.returncode} without statistics:\n{res.stdout[-2000:]}\n"
                           f"{res.stderr[-3000:]}")
    errors: dict[str, int] = {}
    failures_csv = Path(f"{prefix}_failures.csv")
    if failures_csv.is_file():
        with failures_csv.open() as f:
            for row in csv.DictReader(f):
                key = f"{row['Name']}: {row['Error']}"
                errors[key] = errors.get(key, 0) + int(row["Occurrences"])
    return Result(**_stats(total), exit_code=res.returncode, errors=errors,
                  names={r["Name"]: _stats(r) for r in rows if r["Name"] != "Aggregated"})
