"""The wire schema in Python: generated messages from proto/ (ace3d_client.v1), volumes in and out of their
compact form (decoded to numpy), and the canonical proto3 JSON mapping the command lines and REST answers use."""

from __future__ import annotations

import json
import zlib

import numpy as np
from google.protobuf import json_format

from ace3d_client.errors import OptionsError
from ace3d_client.v1 import explanation_pb2 as pb

VOLUME_DTYPES = ("float16", "float32", "uint8", "uint16")


# zlib level 1: float16 heatmaps barely compress, so a higher level costs time for no size
# (docs/PERFORMANCE.md has the figures)
ZLIB_LEVEL = 1


def to_volume(arr: np.ndarray) -> pb.Volume:
    arr = np.ascontiguousarray(arr)
    if arr.dtype.name not in VOLUME_DTYPES:
        raise ValueError(f"volume dtype {arr.dtype} not in {VOLUME_DTYPES}")
    return pb.Volume(shape=list(arr.shape), dtype=arr.dtype.name, data=zlib.compress(arr.tobytes(), ZLIB_LEVEL))


def from_volume(vol: pb.Volume) -> np.ndarray:
    if vol.dtype not in VOLUME_DTYPES:
        raise ValueError(f"volume dtype {vol.dtype!r} not in {VOLUME_DTYPES}")
    return np.frombuffer(zlib.decompress(vol.data), dtype=vol.dtype).reshape(tuple(vol.shape))


def to_json(msg, indent: int | None = 1) -> str:
    """Canonical proto3 JSON (camelCase names, bytes as base64, defaults left out)."""
    return json.dumps(json_format.MessageToDict(msg), indent=indent)


def explanation_from_json(text: str | bytes) -> pb.Explanation:
    return json_format.Parse(text, pb.Explanation())


def parse_options(data: bytes | str | dict | None) -> pb.ExplainOptions:
    """ExplainOptions from serialized protobuf (gRPC), JSON text or a dict (REST). Empty: defaults."""
    opts = pb.ExplainOptions()
    if data is None or (isinstance(data, (bytes, bytearray, str)) and len(data) == 0):
        return opts
    if isinstance(data, dict):
        try:
            return json_format.ParseDict(data, opts)
        except (json_format.ParseError, ValueError) as exc:
            raise OptionsError(f"malformed options: {exc}".splitlines()[0]) from exc
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if raw.lstrip().startswith(b"{"):
        try:
            return json_format.Parse(raw.decode("utf-8"), opts)
        except (json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            json_error = exc
        # a binary message can start with "{" too (a field of length 123): try that before giving up
    else:
        json_error = None
    try:
        opts.ParseFromString(raw)
        return opts
    except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError and friends
        if json_error is not None:
            raise OptionsError(f"malformed options: {json_error}".splitlines()[0]) from json_error
        raise OptionsError("malformed options: neither JSON nor a serialized ExplainOptions message "
                           f"({exc})") from exc
