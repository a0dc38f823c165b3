"""The committed Python stubs in ace3d/v1 must be what proto/ generates now (run `make proto` if not)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FILES = ["explanation_pb2.py", "explanation_pb2.pyi", "inference_pb2.py", "inference_pb2.pyi",
         "inference_pb2_grpc.py"]


def test_stubs_are_fresh(tmp_path):
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={tmp_path}",
                    f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}", *protos], cwd=ROOT, check=True)
    for name in FILES:
        fresh = (tmp_path / "ace3d" / "v1" / name).read_text()
        committed = (ROOT / "ace3d" / "v1" / name).read_text()
        assert fresh == committed, f"ace3d/v1/{name} is stale: run `make proto` and commit the result"
