"""Locust load test of the explanation service over gRPC, with the Python client distribution (clients/python).

Each simulated user holds one gRPC channel and calls, by weight: classification only (3), a full explanation (1),
a streamed explanation (1) (`--tags explain` keeps one kind), over a mix of videos (`--ace3d-videos`: files or
globs, comma-separated). Every call carries the token and a deadline; a call that fails (any gRPC status, an
Explanation with an error, a stream without a final answer) is a Locust failure named by its status. Requests
are named `KIND VIDEO`, so the statistics split by call kind and video.

    locust -f bench/locust/locustfile.py --host 127.0.0.1:7070 --ace3d-token-file out/serve/key_file.json
    locust -f bench/locust/locustfile.py --headless -u 4 -r 2 -t 2m --csv out/locust/demo \
        --host 127.0.0.1:7070 --ace3d-token-file out/serve/key_file.json

docs/PERFORMANCE.md has the full run (web UI, distributed workers, Kubernetes: k8s/locust) and figures."""

from __future__ import annotations

import glob
import os
import random
import time
from pathlib import Path

import grpc
import grpc.experimental.gevent as grpc_gevent
from locust import User, events, tag, task

grpc_gevent.init_gevent()  # gRPC's C core must yield to gevent, or one user's call blocks every other user

from ace3d_client import Ace3dClient, RemoteError, read_token  # noqa: E402
from ace3d_client.v1 import explanation_pb2 as pb  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VIDEOS = "tests/data/v_CricketShot_g04_c01_rgb.gif,data/real/*.mp4"


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("ace3d")
    group.add_argument("--ace3d-model", default="demo", env_var="ACE3D_MODEL", help="model name on the server")
    group.add_argument("--ace3d-token", default="", env_var="ACE3D_TOKEN", help="TorchServe inference key")
    group.add_argument("--ace3d-token-file", default="", env_var="ACE3D_TOKEN_FILE",
                       help="TorchServe's key_file.json (reads the inference key)")
    group.add_argument("--ace3d-tls-ca", default="", env_var="ACE3D_TLS_CA", help="PEM CA certificate: use TLS")
    group.add_argument("--ace3d-deadline", type=float, default=120.0, env_var="ACE3D_DEADLINE",
                       help="seconds per call (the server drops a request past it)")
    group.add_argument("--ace3d-videos", default=DEFAULT_VIDEOS, env_var="ACE3D_VIDEOS",
                       help="video files or globs, comma-separated (relative ones from the repository root)")
    group.add_argument("--ace3d-max-clips", type=int, default=1, env_var="ACE3D_MAX_CLIPS",
                       help="clips per explanation")
    group.add_argument("--ace3d-wait", type=float, default=0.5, env_var="ACE3D_WAIT",
                       help="a user waits up to this many seconds between calls (0: a closed loop)")


def load_videos(spec: str) -> dict[str, bytes]:
    """name -> bytes of every file the comma-separated globs match; a pattern that matches nothing is an error
    (a load test over fewer videos than asked would report the wrong mix)."""
    out: dict[str, bytes] = {}
    for pattern in filter(None, (p.strip() for p in spec.split(","))):
        full = pattern if os.path.isabs(pattern) else str(ROOT / pattern)
        paths = sorted(glob.glob(full))
        if not paths:
            raise SystemExit(f"--ace3d-videos: nothing matches {pattern!r} (make realdata fetches data/real)")
        for p in paths:
            out[Path(p).name] = Path(p).read_bytes()
    return out


_VIDEOS: dict[str, bytes] = {}


@events.test_start.add_listener
def _load(environment, **_kw) -> None:
    _VIDEOS.update(load_videos(environment.parsed_options.ace3d_videos))


class Ace3dUser(User):
    """One caller with its own channel; the host is gRPC's HOST:PORT."""

    def wait_time(self) -> float:
        wait = self.environment.parsed_options.ace3d_wait
        return random.uniform(wait / 5, wait) if wait > 0 else 0.0

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        if not _VIDEOS:
            _VIDEOS.update(load_videos(opts.ace3d_videos))
        token = read_token(opts.ace3d_token or None, opts.ace3d_token_file or None)
        self.client = Ace3dClient(self.host, opts.ace3d_model, token=token, tls_ca=opts.ace3d_tls_ca or None,
                                  deadline=opts.ace3d_deadline)
        self.max_clips = opts.ace3d_max_clips
        self.names = sorted(_VIDEOS)
        self.turn = 0

    def on_stop(self) -> None:
        self.client.close()

    def _video(self) -> tuple[str, bytes]:
        name = self.names[self.turn % len(self.names)]
        self.turn += 1
        return name, _VIDEOS[name]

    def _call(self, kind: str, fn) -> None:
        name, data = self._video()
        t0 = time.perf_counter()
        exc, size = None, 0
        try:
            size = fn(data).ByteSize()
        except RemoteError as err:
            exc = err
        self.environment.events.request.fire(request_type="grpc", name=f"{kind} {name}",
                                             response_time=(time.perf_counter() - t0) * 1000.0,
                                             response_length=size, exception=exc, context={})

    @tag("classify")
    @task(3)
    def classify(self) -> None:
        self._call("classify", lambda data: self.client.classify(data))

    @tag("explain")
    @task(1)
    def explain(self) -> None:
        self._call("explain", lambda data: self.client.explain(data, pb.ExplainOptions(max_clips=self.max_clips)))

    @tag("stream")
    @task(1)
    def stream(self) -> None:
        def streamed(data: bytes) -> pb.Explanation:
            final = None
            for exp in self.client.stream(data, pb.ExplainOptions(max_clips=self.max_clips)):
                final = None if exp.partial else exp
            if final is None:
                raise RemoteError("the stream ended without a final answer", grpc.StatusCode.UNKNOWN)
            return final

        self._call("stream", streamed)

