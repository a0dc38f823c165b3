"""The generated messages live in the client distribution (clients/python, `ace3d_client.v1`, generated from
proto/ by `make proto`); `ace3d.v1.explanation_pb2` and its siblings are the same modules under this name."""

import sys

from ace3d_client.v1 import explanation_pb2, inference_pb2, inference_pb2_grpc

for _mod in (explanation_pb2, inference_pb2, inference_pb2_grpc):
    sys.modules[f"{__name__}.{_mod.__name__.rsplit('.', 1)[1]}"] = _mod
