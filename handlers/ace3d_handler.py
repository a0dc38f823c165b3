"""TorchServe handler for ace3d: a thin adapter from TorchServe 0.12's contract to `ace3d.explain`.

It owns no method logic. Per request it parses the options, decodes the video, runs `Explainer.stream` and
encodes the answer; everything else is TorchServe plumbing, written down here because 0.12 does not
document it:

* Which transport asked. TorchServe forwards every HTTP header of a REST request to the handler and none
  for a gRPC call, so a request with headers is REST. REST answers are the canonical proto3 JSON of
  `Explanation` (or serialized protobuf when the request says `Accept: application/x-protobuf`); gRPC
  answers are always the serialized message.
* Streaming. The backend cannot tell StreamPredictions from Predictions (both arrive as one predict
  command), and an intermediate response ends a unary call. So per-clip partials are sent only when the
  gRPC request carries the input `stream` = "1" (the client sets it on StreamPredictions). Every final
  gRPC response carries the header `ts_stream_next: false`, without which 0.12's frontend throws on a
  StreamPredictions call (see DESIGN.md); REST responses must not carry it (0.12 then never sends the
  HTTP headers of a one-part answer). REST never streams. REST inputs: multipart parts `video` and
  `options` (JSON), or the raw video as the body (Content-Type application/octet-stream).
* Errors. Every `Ace3dError` becomes status 400/413 with its message, never TorchServe's generic 503.
  A PredictionException fails the whole batch, and over gRPC 0.12 ignores per-item status codes; so it is
  raised only when every request of the batch is gRPC and failed with the same status and message.
  Otherwise each request is answered on its own: REST with its own HTTP status and a JSON error body,
  gRPC with an `Explanation` whose `error` field is set (the client library raises it as the status).
* Deadlines. gRPC deadlines do not reach the handler (no metadata is forwarded), and 0.12 hands a request
  to the worker even after its caller gave up. So a caller may send the input `deadline`: its absolute
  deadline as Unix seconds (ASCII, e.g. "1764172800.25"; `Ace3dClient` sets it). A request whose deadline
  has passed is dropped before decoding and between clips (504, DEADLINE_EXCEEDED), so the worker never
  spends more than one clip on abandoned work. Clocks of caller and server must agree (NTP).
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = str(Path(__file__).resolve().parent)
# The archive ships its own copy of the ace3d package at its root; it must win over any installed ace3d so
# that the served code is the code the archive was built and tested with.
while _ROOT in sys.path:
    sys.path.remove(_ROOT)
sys.path.insert(0, _ROOT)

import torch  # noqa: E402
import yaml  # noqa: E402
from ts.handler_utils.utils import send_intermediate_predict_response  # noqa: E402
from ts.metrics.metric_type_enum import MetricTypes  # noqa: E402
from ts.utils.util import PredictionException  # noqa: E402

from ace3d import bank as banks  # noqa: E402
from ace3d import models, runtime, wire  # noqa: E402
from ace3d.errors import Ace3dError, OptionsError, VideoError  # noqa: E402
from ace3d.explain import MAX_CLIPS, Explainer, Request  # noqa: E402
from ace3d.v1 import explanation_pb2 as pb  # noqa: E402
from ace3d.video import DecodeLimits, decode  # noqa: E402

logger = logging.getLogger(__name__)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
SERVING_FILE = "serving.json"
METRICS_FILE = "metrics.yaml"
VIDEO_KEYS = ("video", "body", "data")  # REST raw bodies arrive as "body" (or "data")
INIT_FAILED = "ace3d handler failed to initialize:"
STAGES = ("decode", "classify", "supervoxels", "features", "importance", "total")
MAX_MESSAGE = 1000  # characters of an error message (see _short)


@dataclass
class _Outcome:
    """One request's answer before encoding: a final Explanation, or an error."""

    payload: bytes | str = b""
    content_type: str = PROTOBUF
    status: int = 200
    reason: str = ""
    message: str = ""


class Ace3dHandler:
    """Loads the classifier and concept bank named by the archive's `serving.json` and answers each request
    of a batch on its own (see the module docstring for the transport rules)."""

    def __init__(self) -> None:
        self.initialized = False
        self.explainer: Explainer | None = None
        self.limits = DecodeLimits()
        self.max_clips = 8
        self._metrics: dict[str, Any] = {}

    # ----------------------------------------------------------------------------------------- set-up
    def initialize(self, context) -> None:
        try:
            self._initialize(context)
        except Exception as exc:
            # One recognisable line: `ace3d serve` looks for it to stop waiting for a worker that cannot load
            # (TorchServe would otherwise restart it forever).
            logger.error("%s %s: %s", INIT_FAILED, type(exc).__name__, exc)
            raise

    def _initialize(self, context) -> None:
        props = context.system_properties
        model_dir = Path(props["model_dir"])
        cfg = (getattr(context, "model_yaml_config", None) or {}).get("handler", {}) or {}
        gpu_id = props.get("gpu_id")
        device = f"cuda:{gpu_id}" if torch.cuda.is_available() and gpu_id is not None else "cpu"
        if int(cfg.get("threads", 0)) > 0:
            torch.set_num_threads(int(cfg["threads"]))
        # glibc keeps freed heap for the next request instead of faulting it in again (ace3d/runtime.py)
        kept = runtime.keep_freed_memory() if cfg.get("keep_freed_memory", True) else False
        serving = json.loads((model_dir / SERVING_FILE).read_text())
        spec = _resolve_spec(serving["model"], model_dir)
        clf = models.load(spec, layer=serving.get("layer"), device=device)
        bank = banks.load(model_dir / serving["bank"])
        self.explainer = Explainer(clf, bank)  # refuses a bank built for another model
        defaults = DecodeLimits()
        self.limits = DecodeLimits(
            max_bytes=int(cfg.get("max_bytes", defaults.max_bytes)),
            max_frames=int(cfg.get("max_frames", defaults.max_frames)),
            max_pixels=int(cfg.get("max_pixels", defaults.max_pixels)),
            max_seconds=float(cfg.get("max_decode_seconds", defaults.max_seconds)),
        )
        self.max_clips = min(int(cfg.get("max_clips", self.max_clips)), MAX_CLIPS)
        self._init_metrics(context, model_dir / METRICS_FILE)
        # first requests would otherwise pay for tracing and per-shape kernel set-up (457 ms instead of ~55 ms
        # for the demo model's first explanation, measured on the development CPU)
        warm = self.explainer.warmup() if cfg.get("warmup", True) else 0.0
        self.initialized = True
        logger.info("ace3d handler ready: model %s on %s (%d torch threads), bank %s (%s features), limits %s, "
                    "max_clips %d, warm-up %.2f s, freed memory kept: %s", clf.name, device, torch.get_num_threads(),
                    bank.bank_id, bank.feature_mode, self.limits, self.max_clips, warm, kept)

    def _init_metrics(self, context, spec_path: Path) -> None:
        """Find our metrics in the worker's cache (declared in the server's metrics config); a metric missing
        there is declared from the archive's own metrics.yaml so emitting never fails (it then reaches
        Prometheus only with model_metrics_auto_detect=true)."""
        specs = yaml.safe_load(spec_path.read_text())["model_metrics"] if spec_path.is_file() else {}
        for kind, entries in (specs or {}).items():
            mtype = MetricTypes(kind)
            for entry in entries:
                name = entry["name"]
                try:
                    metric = context.metrics.get_metric(name, mtype)
                except Exception:  # noqa: BLE001 - MetricsCacheKeyError: not declared by the server
                    metric = context.metrics.add_metric_to_cache(name, entry["unit"],
                                                                 list(entry.get("dimensions", [])), mtype)
                self._metrics[name] = metric

    def _emit(self, name: str, value: float, dims: list[str], request_id: str = "") -> None:
        metric = self._metrics.get(name)
        if metric is not None:
            metric.add_or_update(value, dims, request_id)

    # ----------------------------------------------------------------------------------------- requests
    def handle(self, data: list[dict], context) -> list[bytes | str]:
        """Answer every request of the batch; a bad request never fails the others (see module docstring)."""
        assert self.explainer is not None, "handler used before initialize()"
        model = context.model_name
        self._emit("ace3d_batch_size", len(data), [model])
        outcomes: list[_Outcome] = []
        rest = [_is_rest(context, i) for i in range(len(data))]
        for idx, row in enumerate(data):
            outcome = self._one(idx, row or {}, context, rest[idx])
            if outcome.status != 200:
                self._emit("ace3d_errors", 1, [model, outcome.reason])
            outcomes.append(outcome)
        failed = [o for o in outcomes if o.status != 200]
        if (len(failed) == len(outcomes) and not any(rest)
                and len({(o.status, o.message) for o in failed}) == 1):
            # A real gRPC status (INVALID_ARGUMENT / RESOURCE_EXHAUSTED / INTERNAL) with the message.
            raise PredictionException(failed[0].message, failed[0].status)
        answers: list[bytes | str] = []
        for idx, o in enumerate(outcomes):
            if o.status != 200:
                o = _error_outcome(o, rest[idx], _accepts_protobuf(context, idx))
                if rest[idx]:
                    context.set_response_status(o.status, o.reason, idx)
            context.set_response_content_type(idx, o.content_type)
            if not rest[idx]:
                # gRPC only: a REST response that carries ts_stream_next is sent as a stream whose headers
                # never go out unless an intermediate response came first (the client would hang).
                context.set_response_header(idx, "ts_stream_next", "false")
            answers.append(o.payload)
        return answers

    def _one(self, idx: int, row: dict, context, is_rest: bool) -> _Outcome:
        """One request, start to end; every failure comes back as an outcome, never as an exception."""
        model = context.model_name
        request_id = context.get_request_id(idx) or ""
        try:
            deadline = _deadline(row.get("deadline"))
            _check_deadline(deadline, "before decoding")
            opts = wire.parse_options(row.get("options"))
            request = Request.from_proto(opts, max_clips_limit=self.max_clips)
            if request.target_class:  # fail on an unknown class before any decoding
                self.explainer.clf.class_index(request.target_class)
            data = next((row[k] for k in VIDEO_KEYS if row.get(k) is not None), None)
            if data is None:
                raise _missing_video(row)
            if isinstance(data, str):
                data = data.encode("utf-8", "surrogateescape")
            elif not isinstance(data, (bytes, bytearray)):
                raise _not_bytes(data)
            t0 = time.perf_counter()
            video = decode(bytes(data), self.limits)
            decode_s = time.perf_counter() - t0
            stream = _flag(row.get("stream")) and not is_rest
            final = None
            for msg, _ in self.explainer.stream(video, request):
                if msg.partial:  # a clip is done and more follow: stop here if the caller has gone
                    _check_deadline(deadline, f"after clip {msg.clips[0].clip_index + 1} of {msg.clip_count}")
                    if stream:
                        send_intermediate_predict_response({idx: msg.SerializeToString()}, {idx: request_id},
                                                           "Intermediate response", 200, context)
                    continue
                final = msg
            assert final is not None
            final.timings_ms["decode"] = decode_s * 1000.0
            final.timings_ms["total"] = final.timings_ms.get("total", 0.0) + decode_s * 1000.0
            self._observe(model, final, request_id)
            accept_pb = _accepts_protobuf(context, idx)
            if is_rest and not accept_pb:
                return _Outcome(payload=wire.to_json(final, indent=None), content_type=JSON)
            return _Outcome(payload=final.SerializeToString(), content_type=PROTOBUF)
        except Ace3dError as exc:
            message = _short(str(exc))
            if exc.status == 504:
                logger.warning("request %s abandoned: %s", request_id, message)
            else:
                logger.info("request %s refused (%d %s): %s", request_id, exc.status, exc.reason, message)
            return _Outcome(status=exc.status, reason=exc.reason, message=message)
        except Exception as exc:  # noqa: BLE001 - a bug must not become TorchServe's message-less 503
            logger.exception("request %s failed", request_id)
            return _Outcome(status=500, reason="internal",
                            message=_short(f"internal error: {type(exc).__name__}: {exc}"))

    def _observe(self, model: str, exp: pb.Explanation, request_id: str) -> None:
        for stage in STAGES:
            if stage in exp.timings_ms:
                self._emit("ace3d_stage_latency_seconds", exp.timings_ms[stage] / 1000.0, [model, stage], request_id)
        self._emit("ace3d_clips_per_request", len(exp.clips), [model], request_id)
        for clip in exp.clips:
            if clip.HasField("heatmap"):  # classification-only clips have no supervoxels or concepts
                self._emit("ace3d_supervoxels_per_clip", clip.supervoxel_count, [model], request_id)
                self._emit("ace3d_concepts_per_clip", len(clip.concepts), [model], request_id)


# --------------------------------------------------------------------------------------------- helpers
def _resolve_spec(spec: str, model_dir: Path) -> str:
    """`kind:relative/path` in serving.json is relative to the archive root."""
    kind, sep, path = spec.partition(":")
    if sep and path and not os.path.isabs(path):
        return f"{kind}:{model_dir / path}"
    return spec


def _headers(context, idx: int) -> dict[str, str]:
    try:
        return {str(k).lower(): v for k, v in (context.get_all_request_header(idx) or {}).items()}
    except (AttributeError, IndexError, KeyError):
        return {}


def _is_rest(context, idx: int) -> bool:
    """REST requests carry their HTTP headers (HTTP/1.1 always sends Host); gRPC calls carry none."""
    h = _headers(context, idx)
    return any(k in h for k in ("host", "user-agent", "accept", "content-length", "content-type"))


def _accepts_protobuf(context, idx: int) -> bool:
    return PROTOBUF in str(_headers(context, idx).get("accept", ""))


def _flag(value) -> bool:
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    return str(value).strip().lower() in ("1", "true", "yes") if value is not None else False


def _short(message: str) -> str:
    """An error message short enough for a gRPC status: it travels in the grpc-message trailer, and a
    message that echoes a huge input (a 100 KB target class name) overflows the HTTP/2 header limit, so the
    caller got a bare RST_STREAM (INTERNAL) instead of INVALID_ARGUMENT."""
    return message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE - 20] + f"... ({len(message)} chars)"


def _deadline(value) -> float | None:
    """The request's absolute deadline (Unix seconds) from the input `deadline`, or None when absent."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("ascii", "replace")
    try:
        out = float(str(value).strip())
    except ValueError:
        out = float("nan")
    if not math.isfinite(out) or out <= 0:
        raise OptionsError(f"deadline must be absolute Unix seconds (e.g. {time.time() + 60:.1f}), "
                           f"got {str(value)[:40]!r}")
    return out


def _check_deadline(deadline: float | None, where: str) -> None:
    if deadline is not None and time.time() > deadline:
        raise Ace3dError(f"deadline exceeded {time.time() - deadline:.2f} s ago; dropped {where}",
                         reason="deadline_exceeded", status=504)


def _missing_video(row: dict) -> Ace3dError:
    keys = ", ".join(repr(k[:40]) for k in sorted(row)[:5]) or "none"
    return VideoError(f"no video in the request: send the video bytes under the input key 'video' (got keys: {keys})",
                      reason="missing_video")


def _not_bytes(data) -> Ace3dError:
    return VideoError(f"video must be raw bytes, got {type(data).__name__} (send it as a file part / bytes, "
                      "not as JSON)", reason="bad_video")


def _error_outcome(o: _Outcome, is_rest: bool, accept_pb: bool) -> _Outcome:
    """The encoded per-request error: TorchServe-style JSON over REST, an Explanation with `error` set over
    gRPC (or for REST callers that asked for protobuf)."""
    if is_rest and not accept_pb:
        body = json.dumps({"code": o.status, "type": o.reason, "message": o.message})
        return _Outcome(payload=body, content_type=JSON, status=o.status, reason=o.reason, message=o.message)
    msg = pb.Explanation(error=pb.Error(status=o.status, reason=o.reason, message=o.message))
    return _Outcome(payload=msg.SerializeToString(), content_type=PROTOBUF, status=o.status, reason=o.reason,
                    message=o.message)


# ------------------------------------------------------------------------------------------ entry point
# The archive names `ace3d_handler:handle` (a function entry point: TorchServe's class entry point
# requires the module to define exactly one class). TorchServe calls it once with data=None to initialise.
_service = Ace3dHandler()


def handle(data: list[dict] | None, context) -> list[bytes | str] | None:
    if not _service.initialized:
        _service.initialize(context)
    if data is None:
        return None
    return _service.handle(data, context)
