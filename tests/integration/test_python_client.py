"""The client distribution (clients/python) on its own: its wheel, built here, installed into a clean virtual
environment with nothing but its pinned dependencies (grpcio, protobuf, numpy; no torch, no ace3d), explains
a video against the test server; table, canonical JSON and decoded volumes agree with this side's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from ace3d import report, wire

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"


# the clean environment must not see this checkout (the tests run with PYTHONPATH pointing at it)
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("env", CLEAN_ENV)
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert res.returncode == 0, f"{cmd[:3]} failed ({res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res


def _norm(name: str) -> str:
    return name.lower().replace("_", "-")


@pytest.fixture(scope="module")
def client_env(tmp_path_factory) -> Path:
    """A fresh venv holding the client wheel and its pinned dependencies only; returns its bin/."""
    tmp = tmp_path_factory.mktemp("pyclient")
    wheels = tmp / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", wheels, CLIENT])
    pins = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]["dependencies"]
    # pip's cache answers this when the pins are already installed here (they are: requirements-serve.txt)
    _run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:", "--dest", wheels, *pins])
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", venv])
    bin_ = venv / "bin"
    wheel = next(wheels.glob("ace3d_client-*.whl"))
    _run([bin_ / "pip", "install", "--quiet", "--no-index", "--find-links", wheels, wheel])
    return bin_


def test_the_wheel_holds_no_more_than_its_pins(client_env):
    listed = _run([client_env / "pip", "list", "--format", "json"]).stdout
    names = {_norm(p["name"]) for p in json.loads(listed)} - {"pip", "setuptools"}
    pins = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert names == {"ace3d-client", *(_norm(p.split("==")[0]) for p in pins)}, names
    assert "torch" not in names


def test_a_clean_env_explains_a_video(client_env, served, video_bytes, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(video_bytes)
    out = tmp_path / "exp.json"
    # outside the repository, so nothing of this checkout can be imported by accident
    res = _run([client_env / "ace3d-client", video, "--target", served.grpc_target, "--model", served.model,
                "--token", served.token, "--json", out], cwd=tmp_path)
    exp = wire.explanation_from_json(out.read_text())
    assert exp.clips and exp.clips[0].HasField("heatmap"), "the answer has no explained clip"
    assert res.stdout.startswith(report.table(exp)), res.stdout  # the table ace3d prints for the same answer
    # canonical JSON: the same document (a map's key order is not part of it: protobuf maps are unordered)
    assert json.loads(out.read_text()) == json.loads(wire.to_json(exp))

    # the library: no torch, volumes decoded to numpy equal to what this side decodes
    script = """
import json, sys
import ace3d_client
from ace3d_client import Ace3dClient, from_volume
assert "torch" not in sys.modules
with Ace3dClient(sys.argv[1], sys.argv[2], token=sys.argv[3]) as c:
    exp = c.explain(open(sys.argv[4], "rb").read())
heat = from_volume(exp.clips[0].heatmap)
print(json.dumps({"shape": list(heat.shape), "dtype": str(heat.dtype), "sum": float(heat.astype("float64").sum()),
                  "torch": "torch" in sys.modules, "json": ace3d_client.to_json(exp)}))
"""
    res = _run([client_env / "python", "-c", script, served.grpc_target, served.model, served.token, video],
               cwd=tmp_path)
    got = json.loads(res.stdout)
    heat = wire.from_volume(wire.explanation_from_json(got["json"]).clips[0].heatmap)
    assert not got["torch"]
    assert got["shape"] == list(heat.shape) and got["dtype"] == str(heat.dtype)
    assert np.isclose(got["sum"], heat.astype(np.float64).sum())


def test_a_clean_env_reports_an_error_with_status_2(client_env, served, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    res = subprocess.run([str(client_env / "ace3d-client"), str(bad), "--target", served.grpc_target, "--model",
                          served.model, "--token", served.token], capture_output=True, text=True, cwd=tmp_path,
                         env=CLEAN_ENV)
    assert res.returncode == 2, res.stderr
    assert "INVALID_ARGUMENT" in res.stderr and "Traceback" not in res.stderr, res.stderr
