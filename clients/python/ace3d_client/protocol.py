"""The request side of the contract with the served handler (ace3d.serving.protocol imports these, so the
handler and every client agree): the input keys of a PredictionsRequest and the message size limit."""

from __future__ import annotations

# Inputs of a PredictionsRequest (gRPC `input` map, REST multipart part names).
VIDEO = "video"
OPTIONS = "options"  # serialized ExplainOptions, or its JSON
DEADLINE = "deadline"  # the caller's absolute deadline, Unix seconds as ASCII
STREAM = "stream"  # "1": send per-clip partial answers (StreamPredictions)

MAX_MESSAGE_BYTES = 66 * 1024 * 1024  # the server's max_request_size / max_response_size
