"""Generate the Python stubs of proto/ (the one schema source) into the client distribution,
clients/python/ace3d_client/v1 (`make proto`; tests/unit/test_proto_stubs.py checks the committed ones are fresh).

protoc names the modules after the proto package (ace3d.v1); the client distribution cannot own the `ace3d`
name (the service's package has it), so the one cross-module import protoc writes is moved to ace3d_client.v1.
The descriptors keep their proto names (ace3d/v1/*.proto, package ace3d.v1): the wire format is unchanged."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ("explanation_pb2.py", "explanation_pb2.pyi", "inference_pb2.py", "inference_pb2.pyi",
         "inference_pb2_grpc.py")
DEST = Path("clients/python/ace3d_client/v1")


def generate(dest: Path) -> list[Path]:
    """Write the stubs of proto/ into dest/ (created), their imports pointing at ace3d_client.v1."""
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "proto").rglob("*.proto"))
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-Iproto", f"--python_out={tmp}",
                        f"--pyi_out={tmp}", f"--grpc_python_out={tmp}", *protos], cwd=ROOT, check=True)
        out = []
        for name in FILES:
            text = (Path(tmp) / "ace3d" / "v1" / name).read_text()
            text = text.replace("from ace3d.v1 import ", "from ace3d_client.v1 import ")
            (dest / name).write_text(text)
            out.append(dest / name)
    return out


if __name__ == "__main__":
    for path in generate(ROOT / DEST if len(sys.argv) < 2 else Path(sys.argv[1])):
        print(f"wrote {path}")
