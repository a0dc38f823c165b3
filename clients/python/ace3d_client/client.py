"""A gRPC client for the served explainer: `Ace3dClient`, used by `ace3d-client` and `ace3d client`.

It speaks TorchServe's inference API (proto/ace3d/v1/inference.proto): the video and serialized
ExplainOptions go in `PredictionsRequest.input`, a serialized Explanation comes back. What it adds over raw
stubs: the receive limit raised to the server's response limit (Python gRPC stops at 4 MiB), a deadline on
every call, the token as `authorization: Bearer` metadata, TLS, and one error type (`RemoteError`, an
`Ace3dError`) for both a failed call and an answer whose `Explanation.error` is set (how the server reports a
bad request that shared a TorchServe batch with good ones)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
from google.protobuf import empty_pb2

from ace3d_client import protocol
from ace3d_client.errors import Ace3dError
from ace3d_client.v1 import explanation_pb2 as pb
from ace3d_client.v1 import inference_pb2, inference_pb2_grpc
from ace3d_client.wire import parse_options

MAX_MESSAGE = protocol.MAX_MESSAGE_BYTES
GRPC_TO_HTTP = {grpc.StatusCode.INVALID_ARGUMENT: 400, grpc.StatusCode.RESOURCE_EXHAUSTED: 413,
                grpc.StatusCode.UNAUTHENTICATED: 401, grpc.StatusCode.PERMISSION_DENIED: 403,
                grpc.StatusCode.NOT_FOUND: 404, grpc.StatusCode.DEADLINE_EXCEEDED: 504,
                grpc.StatusCode.UNAVAILABLE: 503}
HTTP_TO_GRPC = {400: grpc.StatusCode.INVALID_ARGUMENT, 413: grpc.StatusCode.RESOURCE_EXHAUSTED,
                500: grpc.StatusCode.INTERNAL, 504: grpc.StatusCode.DEADLINE_EXCEEDED}
# TorchServe appends its Java exception's name to every error description.
_TS_SUFFIX = "org.pytorch.serve.http.InternalServerException"
WORKER_DIED = "Worker died."


class RemoteError(Ace3dError):
    """The server refused or failed a call. `code` is the gRPC status, `status` its HTTP-style twin (400 bad
    input, 413 too large, ...), `reason` the server's short reason when it gave one."""

    def __init__(self, message: str, code: grpc.StatusCode, reason: str | None = None) -> None:
        super().__init__(message, reason=reason or code.name.lower(), status=GRPC_TO_HTTP.get(code, 500))
        self.code = code


def _from_rpc(exc: grpc.RpcError) -> RemoteError:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(exc)
    details = "\n".join(line for line in details.splitlines() if line.strip() != _TS_SUFFIX).strip()
    err = RemoteError(f"server answered {code.name}: {details}", code)
    if details.startswith(WORKER_DIED):
        # TorchServe 0.12 answers a request whose worker died (crash, OOM kill) with RESOURCE_EXHAUSTED "Worker
        # died."; it is not the caller's input that is too large, and a retry is served by the new worker.
        err.reason, err.status = "worker_died", 503
    return err


def _checked(data: bytes) -> pb.Explanation:
    exp = pb.Explanation.FromString(data)
    if exp.HasField("error"):
        code = HTTP_TO_GRPC.get(exp.error.status, grpc.StatusCode.UNKNOWN)
        raise RemoteError(f"server answered {code.name}: {exp.error.message}", code, exp.error.reason or None)
    return exp


def read_token(token: str | None = None, token_file: str | Path | None = None) -> str | None:
    """The inference key: given directly, or read from TorchServe's key_file.json."""
    if token:
        return token
    if token_file:
        try:
            data = json.loads(Path(token_file).read_text())
            return data["inference"]["key"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise Ace3dError(f"cannot read the inference key from {token_file}: {exc}", reason="bad_token") from exc
    return None


def channel_options(max_message: int = MAX_MESSAGE) -> list[tuple[str, int]]:
    """Channel options that let answers up to the server's response limit through (gRPC's default is 4 MiB)."""
    return [("grpc.max_receive_message_length", max_message), ("grpc.max_send_message_length", max_message)]


def auth_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """TorchServe's inference key as call metadata (none without a key)."""
    return (("authorization", f"Bearer {token}"),) if token else ()


def predictions_request(model: str, video: bytes, options: pb.ExplainOptions | dict | None, deadline: float,
                        stream: bool = False) -> inference_pb2.PredictionsRequest:
    """The PredictionsRequest for one call: the video, serialized ExplainOptions and the call's deadline. Build
    it just before the call: the deadline input is absolute (now + `deadline` seconds)."""
    if isinstance(options, dict):
        options = parse_options(options)
    inputs = {protocol.VIDEO: bytes(video), protocol.OPTIONS: (options or pb.ExplainOptions()).SerializeToString(),
              # the call's deadline as absolute Unix seconds: the server drops the request once it has
              # passed (gRPC deadlines do not reach TorchServe's workers)
              protocol.DEADLINE: f"{time.time() + deadline:.3f}".encode()}
    if stream:
        inputs[protocol.STREAM] = b"1"
    return inference_pb2.PredictionsRequest(model_name=model, input=inputs)


class Ace3dClient:
    """Explanations from a TorchServe running the ace3d handler, over gRPC.

    `deadline` (seconds) bounds every call; `token` is TorchServe's inference key; `tls_ca` a PEM file of the
    CA that signed the server's certificate (TLS on), else plaintext."""

    def __init__(self, target: str, model: str = "demo", *, token: str | None = None, tls_ca: str | Path | None = None,
                 deadline: float = 120.0, max_message: int = MAX_MESSAGE) -> None:
        options = channel_options(max_message)
        if tls_ca:
            creds = grpc.ssl_channel_credentials(root_certificates=Path(tls_ca).read_bytes())
            self.channel = grpc.secure_channel(target, creds, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.stub = inference_pb2_grpc.InferenceAPIsServiceStub(self.channel)
        self.model, self.deadline = model, deadline
        self.metadata = auth_metadata(token)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Ace3dClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, video: bytes, options: pb.ExplainOptions | dict | None, stream: bool = False):
        return predictions_request(self.model, video, options, self.deadline, stream=stream)

    def ping(self) -> str:
        try:
            return self.stub.Ping(empty_pb2.Empty(), timeout=self.deadline, metadata=self.metadata).health
        except grpc.RpcError as exc:
            raise _from_rpc(exc) from None

    def explain(self, video: bytes, options: pb.ExplainOptions | dict | None = None) -> pb.Explanation:
        """One call, one final Explanation (every clip)."""
        try:
            resp = self.stub.Predictions(self._request(video, options), timeout=self.deadline,
                                         metadata=self.metadata)
        except grpc.RpcError as exc:
            raise _from_rpc(exc) from None
        return _checked(resp.prediction)

    def predict(self, inputs: dict[str, bytes]) -> pb.Explanation:
        """Predictions with raw inputs ("video", "options" as serialized bytes or JSON text)."""
        req = inference_pb2.PredictionsRequest(model_name=self.model, input=inputs)
        try:
            resp = self.stub.Predictions(req, timeout=self.deadline, metadata=self.metadata)
        except grpc.RpcError as exc:
            raise _from_rpc(exc) from None
        return _checked(resp.prediction)

    def stream(self, video: bytes, options: pb.ExplainOptions | dict | None = None) -> Iterator[pb.Explanation]:
        """StreamPredictions: one partial Explanation per clip as the server finishes it (when the video has
        several clips), then the final one (`partial` false)."""
        try:
            for resp in self.stub.StreamPredictions(self._request(video, options, stream=True),
                                                    timeout=self.deadline, metadata=self.metadata):
                yield _checked(resp.prediction)
        except grpc.RpcError as exc:
            raise _from_rpc(exc) from None

    def classify(self, video: bytes, top_k: int = 5, max_clips: int = 1) -> pb.Explanation:
        """The cheap path: predictions only, no concepts."""
        return self.explain(video, pb.ExplainOptions(classify_only=True, top_k=top_k, max_clips=max_clips))


def _percentiles(xs: list[float]) -> dict[str, float]:
    ms = np.asarray(xs) * 1000.0
    return {"p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "n": len(xs)}


def bench(client: Ace3dClient, video: bytes, repeats: int = 20) -> dict:
    """Sequential round trips to a running server: full explanations of `video`, then classification-only
    requests, as p50/p90/p99 wall times seen by the client, and the ratio of the medians. A benchmark that
    reports; it asserts nothing."""
    client.explain(video)  # warm-up: first-call costs (thread pools, caches) are not the steady state
    client.classify(video)
    timings: dict[str, list[float]] = {"explain": [], "classify_only": []}
    for kind in timings:
        for _ in range(repeats):
            t0 = time.perf_counter()
            client.classify(video) if kind == "classify_only" else client.explain(video)
            timings[kind].append(time.perf_counter() - t0)
    out: dict = {k: _percentiles(v) for k, v in timings.items()}
    out["ratio_explain_to_classify_p50"] = out["explain"]["p50_ms"] / out["classify_only"]["p50_ms"]
    return out
