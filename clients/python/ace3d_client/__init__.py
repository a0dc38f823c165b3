"""The ace3d explanation service's Python client: gRPC calls (`Ace3dClient`), the answer's table
(`report.table`), its canonical JSON (`wire.to_json`) and volumes as numpy arrays (`wire.from_volume`).
Needs grpcio, protobuf and numpy only. Names are imported on first use, so that the server side, which
imports `ace3d_client.errors` and the messages, does not pay for the gRPC client."""

from __future__ import annotations

import importlib

_NAMES = {"Ace3dClient": "client", "RemoteError": "client", "read_token": "client", "Ace3dError": "errors",
          "OptionsError": "errors", "table": "report", "explanation_from_json": "wire", "from_volume": "wire",
          "to_json": "wire"}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(f"ace3d_client.{_NAMES[name]}"), name)
    raise AttributeError(f"module 'ace3d_client' has no attribute {name!r}")
