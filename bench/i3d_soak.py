"""The served Kinetics-400 I3D under soak and faults (a benchmark that reports figures; docs/RELIABILITY.md).

One TorchServe with the I3D archived with its served configuration (model_store/model-config-i3d.yaml, `--workers`
worker), then, in this order (`--phases`):
  soak     `--concurrency` callers for `--soak-seconds` (less when `--end-by` comes first: the figures say how
           long it ran), a mix of full explanations and classification-only calls over real and synthetic
           videos; errors, latencies, the worker's RSS (growth: peak of the last third of the samples after
           warm-up over the peak of the first third, as tests/reliability/test_e_soak.py);
  kill     the same load, the worker SIGKILLed in the middle: seconds until a call that started after the kill
           is answered OK, every call's status, and that none outlived its deadline;
  hostile  `--fuzz-n` cases of tests/fuzz_inputs.py at the I3D's limits: each must get OK or a clear refusal;
  long     a 1920 x 1080 video of max_frames frames (at the limits) and one of max_frames + 1 frames (smaller,
           over the frame limit), encoded once into `--video-dir`: the answer or status of each.

    PYTHONPATH=. .venv/bin/python bench/i3d_soak.py --soak-seconds 1200 --json out/i3d_soak.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ace3d_client.client import RemoteError  # noqa: E402

from ace3d.v1 import explanation_pb2 as pb  # noqa: E402
from tests import fuzz_inputs as fuzz  # noqa: E402

CONFIG = ROOT / "model_store" / "model-config-i3d.yaml"
DEADLINE = 120.0  # the config's responseTimeout
REFUSED = {"INVALID_ARGUMENT", "RESOURCE_EXHAUSTED"}


@contextlib.contextmanager
def serving(tmp: Path, config: str, timeout: float = 900.0):
    """The I3D archived with `config` on a TorchServe on free loopback ports; always stopped. Its worker loads
    and warms up for minutes on a busy 2-core machine, so the start waits up to `timeout`."""
    from ace3d.serving import protocol
    from ace3d.tooling.archive import build_archive
    from ace3d.tooling.server import LocalServer, Ports

    (tmp / "model-config.yaml").write_text(config)
    archive = build_archive("i3d_kinetics400", None, "i3d", tmp / "store", config=tmp / "model-config.yaml",
                            device="cpu", check=False)
    server = LocalServer(runtime=tmp / "runtime", model_store=tmp / "store", models={"i3d": archive.name},
                         ports=Ports.free(), overrides={"max_request_size": str(protocol.MAX_MESSAGE_BYTES)})
    server.start(timeout=timeout)
    try:
        yield server
    finally:
        server.stop()


def handler_limit(key: str) -> int:
    for line in CONFIG.read_text().splitlines():
        if line.strip().startswith(f"{key}:"):
            return int(line.split(":", 1)[1].split("#")[0])
    raise SystemExit(f"{key} not in {CONFIG}")


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def videos() -> dict[str, bytes]:
    """The load's mix: the UCF-101 clip, data/real/*.mp4 (`make realdata`) and the synthetic default clip."""
    from ace3d.jobs.synth import default_video_bytes

    out = {"cricket_gif": (ROOT / "tests/data/v_CricketShot_g04_c01_rgb.gif").read_bytes(),
           "synthetic": default_video_bytes()}
    for p in sorted((ROOT / "data/real").glob("*.mp4")):
        out[p.stem] = p.read_bytes()
    return out


def long_video(path: Path, frames: int, width: int = 1920, height: int = 1080) -> Path:
    """A moving pattern, encoded frame by frame (900 full-HD frames do not fit in memory at once)."""
    import av

    yy, xx = np.mgrid[0:height, 0:width]
    base = ((xx // 40 + yy // 40) % 2 * 160 + 40).astype(np.uint8)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "crf": "30"})
        st.width, st.height, st.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            img = np.roll(base, 8 * t, axis=1)
            rgb = np.stack([img, np.roll(img, 3 * t, axis=0), 255 - img], axis=-1)
            for pkt in st.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


class Load:
    """`n` callers in a loop until stopped: every third call a full explanation, else classification only;
    each call's (start, end, kind, video, code) kept, relative to `t0`."""

    def __init__(self, server, vids: dict[str, bytes], n: int) -> None:
        self.server, self.vids, self.n = server, list(vids.items()), n
        self.stop, self.lock, self.calls = threading.Event(), threading.Lock(), []
        self.t0 = time.monotonic()

    def caller(self, i: int) -> None:
        with self.server.client(deadline=DEADLINE) as c:
            k = 0
            while not self.stop.is_set():
                name, data = self.vids[(i + k) % len(self.vids)]
                kind = "explain" if (i + k) % 3 == 0 else "classify"
                t = time.monotonic()
                try:
                    exp = c.explain(data, pb.ExplainOptions(max_clips=1)) if kind == "explain" else c.classify(data)
                    code = "OK" if exp.scores else "NO_SCORES"
                except RemoteError as exc:
                    code = f"{exc.code.name}/{exc.reason}"
                with self.lock:
                    self.calls.append((t - self.t0, time.monotonic() - self.t0, kind, name, code))
                k += 1

    def run(self, seconds: float, during=None) -> float:
        with ThreadPoolExecutor(self.n) as pool:
            futures = [pool.submit(self.caller, i) for i in range(self.n)]
            try:
                while time.monotonic() - self.t0 < seconds:
                    if during:
                        during(time.monotonic() - self.t0)
                    time.sleep(1.0)
            finally:
                self.stop.set()
                _, pending = wait(futures, timeout=DEADLINE + 30)
        if pending:
            raise SystemExit(f"{len(pending)} callers still waiting {DEADLINE + 30:.0f} s after the stop: a call hangs")
        return time.monotonic() - self.t0


def pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)) * 1000, 1) if xs else None


def loadavg() -> float:
    """The machine's 1-minute load average (other jobs share its cores: the figures carry it)."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def soak(srv, vids, seconds: float, n: int) -> dict:
    pid, samples, loads = srv.worker_pid(), [], []
    load = Load(srv, vids, n)

    def sample(t: float) -> None:
        samples.append((t, rss(pid)))
        loads.append(loadavg())

    elapsed = load.run(seconds, during=sample)
    warmup = max(120.0, seconds * 0.25)
    after = [r for t, r in samples if t >= warmup]
    third = max(1, len(after) // 3)
    base, end = max(after[:third] or [1]), max(after[-third:] or [1])
    codes = Counter(c[4] for c in load.calls)
    lat = {k: [c[1] - c[0] for c in load.calls if c[2] == k and c[4] == "OK"] for k in ("explain", "classify")}
    return {"seconds": round(elapsed, 1), "concurrency": n, "requests": len(load.calls), "codes": dict(codes),
            "errors": sum(v for k, v in codes.items() if k != "OK"),
            "requests_per_s": round(len(load.calls) / elapsed, 3),
            "worker_restarted": srv.worker_pid() != pid, "warmup_s": warmup, "rss_samples_after_warmup": len(after),
            "loadavg_1m_mean": round(sum(loads) / max(1, len(loads)), 1), "loadavg_1m_max": max(loads or [0]),
            "rss_mb_first_third_peak": round(base / 2**20, 1), "rss_mb_last_third_peak": round(end / 2**20, 1),
            "rss_mb_peak": round(max(after or [0]) / 2**20, 1), "rss_growth": round(end / base - 1, 4),
            **{f"{k}_p50_ms": pct(v, 50) for k, v in lat.items()},
            **{f"{k}_p99_ms": pct(v, 99) for k, v in lat.items()}}


def kill(srv, vids, n: int, before: float = 30.0, after: float = 120.0) -> dict:
    pid = srv.worker_pid()
    load, state = Load(srv, vids, n), {}

    workers = len(srv.worker_status())

    def maybe_kill(t: float) -> None:
        if "t_kill" not in state and t >= before:
            os.kill(pid, signal.SIGKILL)
            state["t_kill"] = t
        elif "t_kill" in state and "t_back" not in state and t > state["t_kill"] + 1:
            # every worker READY again, the killed one replaced (TorchServe lists a dead worker a while)
            with contextlib.suppress(OSError):
                now = srv.workers()
                if pid not in {p for p, _ in now} and [w for _, w in now].count("READY") == workers:
                    state["t_back"] = t

    elapsed = load.run(before + after, during=maybe_kill)
    tk = state["t_kill"]
    state["loadavg_1m_after"] = loadavg()
    ok_after = [c[1] for c in load.calls if c[0] > tk and c[4] == "OK"]
    longest = max((c[1] - c[0] for c in load.calls), default=0.0)
    return {"seconds": round(elapsed, 1), "concurrency": n, "killed_pid": pid, "new_pid": srv.worker_pid(),
            "requests": len(load.calls), "codes": dict(Counter(c[4] for c in load.calls)),
            "in_flight_at_kill": dict(Counter(c[4] for c in load.calls if c[0] <= tk <= c[1])),
            "serving_again_s": round(min(ok_after) - tk, 1) if ok_after else None, "workers": workers,
            "all_workers_ready_again_s": round(state["t_back"] - tk, 1) if "t_back" in state else None,
            "longest_call_s": round(longest, 1), "loadavg_1m_at_end": state["loadavg_1m_after"],
            "calls_past_deadline": sum(c[1] - c[0] > DEADLINE + 5 for c in load.calls)}


def hostile(srv, n: int, seed: int, class_names: list[str], budget: float) -> dict:
    limits = fuzz.Limits(handler_limit("max_bytes"), handler_limit("max_frames"), handler_limit("max_pixels"))
    cases = fuzz.Generator(seed, limits, class_names).generate(n)
    pid = srv.worker_pid()

    def send(case: fuzz.Case) -> fuzz.Outcome:
        t = time.monotonic()
        with srv.client(deadline=DEADLINE) as c:
            try:
                exp = c.predict(case.inputs)
                return fuzz.Outcome(case, "OK", seconds=time.monotonic() - t, extra={"scores": len(exp.scores)})
            except RemoteError as exc:
                return fuzz.Outcome(case, exc.code.name, str(exc), time.monotonic() - t)

    t0 = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(send, c) for c in cases]
        done, pending = wait(futures, timeout=budget)
        for f in pending:
            f.cancel()
    outs = [f.result() for f in futures if f.done() and not f.cancelled()]

    def fine(o: fuzz.Outcome) -> bool:
        if o.code == "OK":
            return o.case.expect in (fuzz.OK, fuzz.ANY) and o.extra.get("scores", 0) > 0
        return o.code in REFUSED and o.case.expect in (fuzz.REFUSED, fuzz.ANY) and len(o.message) > 40

    bad = [o for o in outs if not fine(o)]
    return {"cases": len(outs), "not_sent_out_of_time": len(cases) - len(outs),
            "seconds": round(time.monotonic() - t0, 1),
            "codes": dict(Counter(o.code for o in outs)), "unacceptable": len(bad),
            "first_unacceptable": [f"{o.case.id} {o.code} {o.message[:200]}" for o in bad[:5]],
            "slowest_s": round(max(o.seconds for o in outs), 1), "worker_restarted": srv.worker_pid() != pid,
            "limits": vars(limits)}


def limit_videos(folder: Path) -> dict[str, tuple[Path, float]]:
    """The videos at and over the limits, encoded once into `folder` (kept: a rerun reuses them)."""
    frames, out = handler_limit("max_frames"), {}
    folder.mkdir(parents=True, exist_ok=True)
    for label, n, w, h in (("at_max_frames_1920x1080", frames, 1920, 1080), ("over_max_frames_320x180", frames + 1,
                                                                             320, 180)):
        path, t = folder / f"{label}_{n}.mp4", time.monotonic()
        if not path.is_file():
            long_video(path.with_suffix(".tmp.mp4"), n, w, h).rename(path)
        out[label] = (path, time.monotonic() - t)
    return out


def at_limits(srv, vids: dict[str, tuple[Path, float]]) -> dict:
    out = {}
    for label, (path, enc) in vids.items():
        t = time.monotonic()
        with srv.client(deadline=DEADLINE) as c:
            try:
                exp = c.explain(path.read_bytes(), pb.ExplainOptions(max_clips=handler_limit("max_clips")))
                code = f"OK ({len(exp.clips)} clips)"
            except RemoteError as exc:
                code = f"{exc.code.name}: {str(exc)[:200]}"
        out[label] = {"mb": round(path.stat().st_size / 1e6, 2),
                      "encode_s": round(enc, 1), "answer": code, "seconds": round(time.monotonic() - t, 1)}
    return out


def seconds_until(hhmm: str) -> float:
    """Seconds from now to the next HH:MM UTC."""
    now = time.time()
    h, m = (int(x) for x in hhmm.split(":"))
    day = now - now % 86400
    end = day + h * 3600 + m * 60
    return end - now if end > now else end + 86400 - now


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--soak-seconds", type=float, default=1200)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1,
                    help="TorchServe workers for the I3D (2: a killed worker's calls go to the other)")
    ap.add_argument("--fuzz-n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--phases", default="soak,kill,hostile,long")
    ap.add_argument("--video-dir", default="out/i3d_soak_videos", help="where the videos at the limits are kept")
    ap.add_argument("--end-by", default=None, metavar="HH:MM", help="UTC time the soak must end by (it is cut short)")
    ap.add_argument("--json", default="out/i3d_soak.json")
    args = ap.parse_args()
    from ace3d import models

    figures: dict = {"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "args": vars(args)}

    def save(section: str, value) -> None:
        figures[section] = value
        print(f"[{section}] {json.dumps(value)}", flush=True)
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=1))

    class_names = list(models.load("i3d_kinetics400").class_names)
    vids = videos()
    save("videos", {k: len(v) for k, v in vids.items()})
    config = CONFIG.read_text() + f"\nminWorkers: {args.workers}\nmaxWorkers: {args.workers}\n"
    with tempfile.TemporaryDirectory(prefix="i3d-soak-") as tmp:
        limit_vids = limit_videos(Path(args.video_dir)) if "long" in args.phases else {}
        t = time.monotonic()
        with serving(Path(tmp), config) as s:
            from tests.reliability.rel_helpers import Server

            srv = Server(s, "i3d", s.keys()["inference"], class_names, "i3d_kinetics400", None, None)
            save("startup_s", round(time.monotonic() - t, 1))
            phases = args.phases.split(",")
            for phase in phases:
                if phase == "long":
                    save("long", at_limits(srv, limit_vids))
                elif phase == "hostile":
                    budget = seconds_until(args.end_by) - 150 if args.end_by else 1800
                    save("hostile", hostile(srv, args.fuzz_n, args.seed, class_names, max(budget, 60)))
                elif phase == "kill":
                    save("kill", kill(srv, vids, args.concurrency))
                elif phase == "soak":
                    seconds = args.soak_seconds
                    if args.end_by:  # leave the later phases 7 minutes
                        later = 420 if phases.index("soak") < len(phases) - 1 else 30
                        seconds = min(seconds, seconds_until(args.end_by) - later)
                    save("soak", soak(srv, vids, seconds, args.concurrency))
            save("worker_deaths_in_logs", srv.worker_deaths())
    save("finished_utc", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


if __name__ == "__main__":
    main()
