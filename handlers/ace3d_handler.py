"""TorchServe 0.12 glue for ace3d: context, headers, `ts_stream_next`, PredictionException and metrics.
Everything else (options, deadlines, decoding, the method, error outcomes) is ace3d.serving.service.

TorchServe's rules this file encodes (model_store/README.md has the measurements):
* A request with HTTP headers is REST (gRPC calls carry none). REST answers the canonical proto3 JSON of
  `Explanation` (protobuf with `Accept: application/x-protobuf`); gRPC answers are serialized messages.
* Streaming: the backend cannot tell StreamPredictions from Predictions, so partials go out only when a
  gRPC request carries the input `stream` = "1". Every final gRPC response carries `ts_stream_next: false`
  (0.12's frontend throws on a stream without it); REST responses must not (the client would hang).
* Errors: a PredictionException fails the whole batch, so it is raised only when every request of the
  batch is gRPC and failed alike; otherwise each request gets its own status (REST) or an `Explanation`
  whose `error` is set (gRPC)."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

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

from ace3d import wire  # noqa: E402
from ace3d.errors import Ace3dError  # noqa: E402
from ace3d.serving import protocol  # noqa: E402
from ace3d.serving.service import ExplainService, error_answer  # noqa: E402

logger = logging.getLogger(__name__)
REST_HEADERS = ("host", "user-agent", "accept", "content-length", "content-type")


class Ace3dHandler:
    """Loads the service from the unpacked archive and answers each request of a batch on its own."""

    def __init__(self) -> None:
        self.service: ExplainService | None = None
        self.metrics: dict = {}

    def initialize(self, context) -> None:
        try:
            props = context.system_properties
            gpu = props.get("gpu_id")
            device = f"cuda:{gpu}" if torch.cuda.is_available() and gpu is not None else "cpu"
            cfg = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
            self._init_metrics(context, Path(props["model_dir"]) / protocol.METRICS_FILE)
            self.service = ExplainService.from_archive(Path(props["model_dir"]), cfg, device)
        except Exception as exc:
            # `ace3d serve` waits for this line instead of a worker that TorchServe would restart forever
            logger.error("%s %s: %s", protocol.INIT_FAILED, type(exc).__name__, exc)
            # counted (by reason: bank_mismatch, ...) so that an alert sees a worker that cannot start
            self._emit("ace3d_startup_failures", 1, [context.model_name, getattr(exc, "reason", "internal")])
            raise
        logger.info("ace3d handler ready: %s, %d torch threads, warm-up %.2f s", self.service.describe(),
                    torch.get_num_threads(), self.service.warmup_seconds)

    def _init_metrics(self, context, spec_path: Path) -> None:
        """Our metrics from the worker's cache; one the server did not declare is declared from the archive's
        metrics.yaml so emitting never fails (it then reaches Prometheus only with auto-detection on)."""
        specs = yaml.safe_load(spec_path.read_text())["model_metrics"] if spec_path.is_file() else {}
        for kind, entries in (specs or {}).items():
            for e in entries:
                try:
                    metric = context.metrics.get_metric(e["name"], MetricTypes(kind))
                except Exception:  # noqa: BLE001 - MetricsCacheKeyError: not declared by the server
                    metric = context.metrics.add_metric_to_cache(e["name"], e["unit"], list(e.get("dimensions", [])),
                                                                 MetricTypes(kind))
                self.metrics[e["name"]] = metric

    def _emit(self, name: str, value: float, dims: list[str], request_id: str = "") -> None:
        if name in self.metrics:
            self.metrics[name].add_or_update(value, dims, request_id)

    def handle(self, data: list[dict], context) -> list[bytes | str]:
        model = context.model_name
        self._emit("ace3d_batch_size", len(data), [model])
        rest = [_is_rest(context, i) for i in range(len(data))]
        outcomes = [self._one(i, row or {}, context, rest[i]) for i, row in enumerate(data)]
        failed = [o for o in outcomes if o[0] != 200]
        for status, _, _ in outcomes:  # the status each request is meant to get (see docs/OPERATIONS.md)
            self._emit("ace3d_requests", 1, [model, protocol.status_code(status)])
        for _, reason, _ in failed:
            self._emit("ace3d_errors", 1, [model, reason])
        if failed and len(failed) == len(outcomes) and not any(rest) and len({(s, m) for s, _, m in failed}) == 1:
            raise PredictionException(failed[0][2], failed[0][0])  # a real gRPC status with the message
        answers: list[bytes | str] = []
        for i, (status, reason, payload) in enumerate(outcomes):
            accept_pb = protocol.PROTOBUF in str(_headers(context, i).get("accept", ""))
            as_json = rest[i] and not accept_pb
            if status != 200:
                payload = (json.dumps({"code": status, "type": reason, "message": payload}) if as_json
                           else error_answer(status, reason, payload))
                if rest[i]:
                    context.set_response_status(status, reason, i)
            if not isinstance(payload, str):
                payload = wire.to_json(payload, indent=None) if as_json else payload.SerializeToString()
            context.set_response_content_type(i, protocol.JSON if as_json else protocol.PROTOBUF)
            if not rest[i]:
                context.set_response_header(i, "ts_stream_next", "false")  # gRPC only (see module docstring)
            answers.append(payload)
        return answers

    def _one(self, idx: int, row: dict, context, is_rest: bool) -> tuple[int, str, object]:
        """(200, "", final Explanation) or (status, reason, message); never raises."""
        request_id = context.get_request_id(idx) or ""
        try:
            for msg in self.service.answer(row, can_stream=not is_rest):
                if msg.partial:
                    send_intermediate_predict_response({idx: msg.SerializeToString()}, {idx: request_id},
                                                       "Intermediate response", 200, context)
                    continue
                for name, value, dims in self.service.observations(msg):
                    self._emit(name, value, [context.model_name, *dims], request_id)
                return 200, "", msg
            raise RuntimeError("the service ended without a final answer")
        except Ace3dError as exc:
            message = protocol.short(str(exc))
            if exc.status == 504:
                logger.warning("request %s abandoned: %s", request_id, message)
            else:
                logger.info("request %s refused (%d %s): %s", request_id, exc.status, exc.reason, message)
            return exc.status, exc.reason, message
        except Exception as exc:  # noqa: BLE001 - a bug must not become TorchServe's message-less 503
            logger.exception("request %s failed", request_id)
            return 500, "internal", protocol.short(f"internal error: {type(exc).__name__}: {exc}")


def _headers(context, idx: int) -> dict[str, str]:
    try:
        return {str(k).lower(): v for k, v in (context.get_all_request_header(idx) or {}).items()}
    except (AttributeError, IndexError, KeyError):
        return {}


def _is_rest(context, idx: int) -> bool:
    return any(k in _headers(context, idx) for k in REST_HEADERS)


# The archive names `ace3d_handler:handle` (TorchServe's class entry point wants exactly one class in the
# module); TorchServe calls it once with data=None to initialise.
_service = Ace3dHandler()


def handle(data: list[dict] | None, context) -> list[bytes | str] | None:
    if _service.service is None:
        _service.initialize(context)
    return None if data is None else _service.handle(data, context)
