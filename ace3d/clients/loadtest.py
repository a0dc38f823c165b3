"""`ace3d loadtest`: many concurrent gRPC calls to a running TorchServe, as throughput, latency percentiles and
errors by status code.

Why async (grpc.aio): N in-flight calls from one process on one channel, without N threads competing with the
server for a small machine's CPUs. The request is built by `ace3d.client.predictions_request`, so what is
measured is what `ace3d client` sends. Bounds: no call starts after `duration` seconds or once `max_requests`
calls have started; a call already started runs to its answer or its deadline (cutting it off would drop the
slowest calls from the percentiles), so the run lasts at most `duration + deadline` seconds."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
from ace3d_client.client import (
    MAX_MESSAGE,
    RemoteError,
    _checked,
    _from_rpc,
    auth_metadata,
    channel_options,
    predictions_request,
    read_token,
)
from google.protobuf.message import DecodeError

from ace3d.errors import Ace3dError
from ace3d.v1 import explanation_pb2 as pb
from ace3d.v1 import inference_pb2_grpc

EXPLANATION_ERROR = "EXPLANATION_ERROR"  # a gRPC OK whose Explanation carries an error (see client._checked)
BAD_RESPONSE = "BAD_RESPONSE"  # a gRPC OK whose bytes are not an Explanation
MODES = {"explain": pb.ExplainOptions(), "classify": pb.ExplainOptions(classify_only=True)}
_SCHEMES = ("dns:", "unix:", "unix-abstract:", "ipv4:", "ipv6:")


class LoadTestError(Ace3dError):
    """A load test that cannot start: bad arguments, no video, a target that cannot be reached."""

    reason = "bad_loadtest"


@dataclass
class LoadTestConfig:
    """One load test: where, what is sent, how many at once, and its bounds."""

    target: str
    video: bytes
    model: str = "demo"
    mode: str = "explain"
    concurrency: int = 4
    duration: float = 10.0  # seconds in which calls are started
    max_requests: int = 0  # calls started in all, 0: only `duration` bounds them
    deadline: float = 60.0  # seconds per call, and for the first connection
    warmup: int = 0  # un-timed calls before the clock starts (first-call costs are not the steady state)
    token: str | None = None
    tls_ca: str | Path | None = None

    def check(self) -> None:
        """Refuse what would make a meaningless or endless run before any connection is made."""
        if self.mode not in MODES:
            raise LoadTestError(f"unknown mode {self.mode!r}: one of {', '.join(MODES)}")
        if self.concurrency < 1 or self.duration <= 0 or self.deadline <= 0 or self.max_requests < 0 \
                or self.warmup < 0:
            raise LoadTestError("need concurrency >= 1, duration > 0, deadline > 0, max-requests >= 0, warmup >= 0")
        if not self.video:
            raise LoadTestError("the video is empty", reason="bad_video")
        if not self.target.startswith(_SCHEMES):
            host, sep, port = self.target.rpartition(":")
            if not (sep and host and port.isdigit() and 0 < int(port) < 65536):
                raise LoadTestError(f"bad target {self.target!r}: expected HOST:PORT", reason="bad_target")


def _latency_ms(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}
    ms = np.asarray(seconds) * 1000.0
    p50, p90, p99 = (float(x) for x in np.percentile(ms, [50, 90, 99]))
    return {"p50": p50, "p90": p90, "p99": p99, "mean": float(ms.mean()), "max": float(ms.max())}


class _Run:
    """Shared state of the workers: how many calls started, and each finished call's outcome."""

    def __init__(self, stub, cfg: LoadTestConfig, metadata) -> None:
        self.stub, self.cfg, self.metadata = stub, cfg, metadata
        self.started = 0
        self.latencies: list[float] = []  # seconds, OK calls only
        self.errors: dict[str, int] = {}
        self.samples: dict[str, str] = {}  # the first message per error code: what to look at

    async def call(self) -> tuple[str | None, str]:
        """One Predictions call: (None, "") when OK, else (error code name, message)."""
        req = predictions_request(self.cfg.model, self.cfg.video, MODES[self.cfg.mode], self.cfg.deadline)
        try:
            resp = await self.stub.Predictions(req, timeout=self.cfg.deadline, metadata=self.metadata)
        except grpc.RpcError as exc:
            err = _from_rpc(exc)
            return err.code.name, str(err)
        try:
            _checked(resp.prediction)
        except RemoteError as exc:
            return EXPLANATION_ERROR, str(exc)
        except DecodeError as exc:
            return BAD_RESPONSE, str(exc)
        return None, ""

    async def worker(self, limit: int, until: float, record: bool) -> None:
        while self.started < limit and time.perf_counter() < until:
            self.started += 1  # one event loop: no lock needed between the check and the claim
            t0 = time.perf_counter()
            code, message = await self.call()
            if not record:
                continue
            if code is None:
                self.latencies.append(time.perf_counter() - t0)
            else:
                self.errors[code] = self.errors.get(code, 0) + 1
                self.samples.setdefault(code, message)

    async def drive(self, limit: int, until: float, record: bool) -> None:
        await asyncio.gather(*(self.worker(limit, until, record) for _ in range(self.cfg.concurrency)))


async def run(cfg: LoadTestConfig) -> dict:
    """The load test itself; returns the JSON-able report."""
    cfg.check()
    options = channel_options(MAX_MESSAGE)
    if cfg.tls_ca:
        try:
            ca = Path(cfg.tls_ca).read_bytes()
        except OSError as exc:
            raise LoadTestError(f"cannot read the CA certificate {cfg.tls_ca}: {exc}", reason="bad_tls") from None
        creds = grpc.ssl_channel_credentials(root_certificates=ca)
        channel = grpc.aio.secure_channel(cfg.target, creds, options=options)
    else:
        channel = grpc.aio.insecure_channel(cfg.target, options=options)
    try:
        try:
            # Without this an unreachable target would only show as a report full of UNAVAILABLE, or a wait.
            await asyncio.wait_for(channel.channel_ready(), timeout=cfg.deadline)
        except TimeoutError:
            raise LoadTestError(f"cannot connect to {cfg.target} within {cfg.deadline:g} s",
                                reason="unreachable") from None
        state = _Run(inference_pb2_grpc.InferenceAPIsServiceStub(channel), cfg, auth_metadata(cfg.token))
        if cfg.warmup:
            await state.drive(cfg.warmup, float("inf"), record=False)
            state.started = 0
        t0 = time.perf_counter()
        await state.drive(cfg.max_requests or 2**62, t0 + cfg.duration, record=True)
        wall = time.perf_counter() - t0
    finally:
        await channel.close()
    ok = len(state.latencies)
    return {"target": cfg.target, "model": cfg.model, "mode": cfg.mode, "concurrency": cfg.concurrency,
            "duration_s": round(wall, 3), "duration_limit_s": cfg.duration, "max_requests": cfg.max_requests,
            "deadline_s": cfg.deadline, "warmup": cfg.warmup, "video_bytes": len(cfg.video),
            "requests": ok + sum(state.errors.values()), "ok": ok, "errors": dict(sorted(state.errors.items())),
            "throughput_rps": ok / wall if wall > 0 else 0.0, "latency_ms": _latency_ms(state.latencies),
            "error_samples": dict(sorted(state.samples.items()))}


def loadtest(cfg: LoadTestConfig) -> dict:
    """`run` from synchronous code (its own event loop)."""
    return asyncio.run(run(cfg))


def read_video(video: str) -> bytes:
    """The video's bytes; 'default': the default synthetic clip (the one `ace3d bench` times)."""
    if video == "default":
        from ace3d.jobs.synth import default_video_bytes

        return default_video_bytes()
    path = Path(video)
    if not path.is_file():
        raise LoadTestError(f"video file not found: {path}", reason="missing_file")
    return path.read_bytes()


# ------------------------------------------------------------------------------------------------- CLI
def cmd_loadtest(args) -> None:
    from ace3d import report

    cfg = LoadTestConfig(target=args.target, video=read_video(args.video), model=args.model, mode=args.mode,
                         concurrency=args.concurrency, duration=args.duration, max_requests=args.max_requests,
                         deadline=args.deadline, warmup=args.warmup, token=read_token(args.token, args.token_file),
                         tls_ca=args.tls_ca)
    text = json.dumps(loadtest(cfg), indent=1)
    print(text)
    if args.json:
        report.write_text(args.json, text)


def add_parser(sub) -> None:
    """Register `ace3d loadtest`."""
    sp = sub.add_parser("loadtest", help="concurrent gRPC calls to a running server: throughput, latency, errors")
    sp.add_argument("--target", default="127.0.0.1:7070", help="HOST:PORT of TorchServe's gRPC inference API")
    sp.add_argument("--video", default="default", help="video file, or 'default': the default synthetic clip")
    sp.add_argument("--model", default="demo", help="model name on the server (default: demo)")
    sp.add_argument("--mode", choices=tuple(MODES), default="explain",
                    help="explain: full explanations; classify: predictions only (default: explain)")
    sp.add_argument("--concurrency", type=int, default=4, help="calls in flight at once (default: 4)")
    sp.add_argument("--duration", type=float, default=10.0, help="seconds in which calls are started (default: 10)")
    sp.add_argument("--max-requests", type=int, default=0, help="calls in all (default 0: only --duration bounds)")
    sp.add_argument("--deadline", type=float, default=60.0, help="seconds per call and to connect (default: 60)")
    sp.add_argument("--warmup", type=int, nargs="?", const=2, default=0, metavar="N",
                    help="N un-timed calls first (--warmup alone: 2)")
    sp.add_argument("--token", default=None, help="TorchServe inference key")
    sp.add_argument("--token-file", default=None, help="TorchServe's key_file.json (reads the inference key)")
    sp.add_argument("--tls-ca", default=None, help="PEM CA certificate: use TLS")
    sp.add_argument("--json", default=None, help="write the report's JSON here too")
    sp.set_defaults(func=cmd_loadtest)
