"""The contract between callers and the served handler, defined once and imported by the handler, the
service layer, the client and the tests: request input keys, content types, limits and the start-up error
line. Imports nothing heavy (no torch), so thin clients can use it."""

from __future__ import annotations

# Inputs of a PredictionsRequest (gRPC `input` map, REST multipart part names) and the message size limit:
# the client distribution's (clients/python), so that both sides read one definition.
from ace3d_client.protocol import DEADLINE, MAX_MESSAGE_BYTES, OPTIONS, STREAM, VIDEO  # noqa: F401

from ace3d.method.stages import Stage

VIDEO_KEYS = (VIDEO, "body", "data")  # REST raw bodies arrive as "body" (or "data")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# Files of a model archive.
SERVING_FILE = "serving.json"
METRICS_FILE = "metrics.yaml"

# Limits of one request's options (the decode limits are in model-config.yaml).
MAX_TOP_K = 100
MAX_CLIPS = 32  # hard ceiling; model-config.yaml's max_clips may set less
MAX_CONCEPTS = 255
MAX_ERROR_CHARS = 1000  # characters of an error message (see `short`)

# The one line the handler logs when it cannot start; `ace3d serve` waits for a worker until it sees it.
INIT_FAILED = "ace3d handler failed to initialize:"

# The stages a final answer reports (timings_ms keys, the Stage dimension of ace3d_stage_latency_seconds).
STAGES = tuple(str(s) for s in Stage)

# A request's outcome as the name of its gRPC status, whatever the transport: the `Code` of the metric
# ace3d_requests (REST answers the HTTP status these stand for).
STATUS_CODES = {200: "OK", 400: "INVALID_ARGUMENT", 413: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}


def status_code(status: int) -> str:
    """The gRPC status name of an HTTP-style status (UNKNOWN for one the service never sets)."""
    return STATUS_CODES.get(status, "UNKNOWN")


def short(message: str) -> str:
    """An error message short enough for a gRPC status: it travels in the grpc-message trailer, and a
    message that echoes a huge input (a 100 KB target class name) overflows the HTTP/2 header limit, so the
    caller got a bare RST_STREAM (INTERNAL) instead of INVALID_ARGUMENT."""
    if len(message) <= MAX_ERROR_CHARS:
        return message
    return message[:MAX_ERROR_CHARS - 20] + f"... ({len(message)} chars)"


def flag(value) -> bool:
    """An input that says yes ("1", "true", "yes"; bytes or text)."""
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    return str(value).strip().lower() in ("1", "true", "yes") if value is not None else False
