"""The Node.js client (clients/node) against the session's real TorchServe (see conftest.py): the same table,
the same canonical JSON and the same decoded volumes as the Python client, for the same video.

Node is the machine image's (/usr/bin/node); its npm packages come from clients/node/package-lock.json
through `make node-client` (a prerequisite of `make test`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ace3d import wire
from ace3d.cli import main
from ace3d.v1 import explanation_pb2 as pb

pytestmark = pytest.mark.integration

NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"
CLI = NODE_CLIENT / "cli.js"


@pytest.fixture(scope="module")
def node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail("node is not on PATH: the Node client needs Node.js >= 18 (debian-packages.txt: nodejs)")
    if not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.fail("clients/node has no node_modules: run `make node-client` (npm ci from its package-lock.json)")
    return exe


def run_node(node: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([node, str(CLI), *args], capture_output=True, text=True, timeout=timeout)


def python_client(capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["client", *args]) == 0
    return capsys.readouterr().out


def without_timings(doc: dict) -> dict:
    """An answer without its per-request stage timings (two calls never take the same time)."""
    doc = dict(doc)
    assert set(doc.pop("timingsMs")) >= {"decode", "classify", "total"}
    return doc


def test_node_client_prints_the_python_table_and_json(served, video_bytes, tmp_path, node, capsys):
    video = tmp_path / "v.mp4"
    video.write_bytes(video_bytes)
    common = ["--target", served.grpc_target, "--model", served.model, "--token-file", str(served.server.key_file)]
    res = run_node(node, str(video), *common, "--json", str(tmp_path / "node.json"), "--raw", str(tmp_path / "node.pb"))
    assert res.returncode == 0, res.stderr
    py_out = python_client(capsys, str(video), *common, "--json", str(tmp_path / "py.json"))

    node_table = res.stdout.split("\nwrote ")[0]
    assert node_table == py_out.split("\nwrote ")[0]
    assert "prediction:" in node_table and "importance" in node_table

    node_doc = json.loads((tmp_path / "node.json").read_text())
    assert without_timings(node_doc) == without_timings(json.loads((tmp_path / "py.json").read_text()))
    # The bytes Node received, decoded by Python's protobuf: exactly Node's JSON, timings included.
    exp = pb.Explanation.FromString((tmp_path / "node.pb").read_bytes())
    assert json.loads(wire.to_json(exp)) == node_doc
    assert exp.clips and exp.clips[0].concepts


def test_node_client_decodes_the_zlib_volumes(served, video_bytes, tmp_path, node):
    """Node's `volume()` gives the values numpy's `from_volume` gives, for the float16 heatmap and the uint8
    concept map of a real answer."""
    video = tmp_path / "v.mp4"
    video.write_bytes(video_bytes)
    res = run_node(node, str(video), "--target", served.grpc_target, "--model", served.model, "--token",
                   served.token, "--raw", str(tmp_path / "a.pb"))
    assert res.returncode == 0, res.stderr
    script = (f"const c = require({json.dumps(str(NODE_CLIENT))}); const fs = require('fs');"
              "const s = c.loadSchema(); const e = s.Explanation.decode(fs.readFileSync(process.argv[1]));"
              "const out = e.clips.map((k) => [k.heatmap, k.conceptMap].map((v) => { const x = c.volume(v);"
              " return {shape: x.shape, dtype: x.dtype, data: Array.from(x.data)}; }));"
              "process.stdout.write(JSON.stringify(out));")
    res = subprocess.run([node, "-e", script, str(tmp_path / "a.pb")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    decoded = json.loads(res.stdout)
    exp = pb.Explanation.FromString((tmp_path / "a.pb").read_bytes())
    assert len(decoded) == len(exp.clips) >= 1
    for clip, vols in zip(exp.clips, decoded, strict=True):
        for vol, got in zip((clip.heatmap, clip.concept_map), vols, strict=True):
            want = wire.from_volume(vol)
            assert got["shape"] == list(want.shape) and got["dtype"] == vol.dtype
            assert np.array_equal(np.asarray(got["data"], np.float64), want.astype(np.float64).ravel())
    heat = wire.from_volume(exp.clips[0].heatmap)
    assert heat.dtype == np.float16 and 0 < float(heat.max()) <= 1.0  # a real heatmap, not zeros


def test_node_client_streams_partial_clips_then_the_python_final_answer(served, long_video, tmp_path, node, capsys):
    video = tmp_path / "long.mp4"
    video.write_bytes(long_video)
    common = ["--target", served.grpc_target, "--model", served.model, "--token", served.token, "--stream",
              "--max-clips", "2", "--max-concepts", "3"]
    res = run_node(node, str(video), *common, "--json", str(tmp_path / "node.json"))
    assert res.returncode == 0, res.stderr
    assert "clip 1/2 done" in res.stdout and "clip 2/2 done" in res.stdout
    python_client(capsys, str(video), *common, "--json", str(tmp_path / "py.json"))
    node_doc = json.loads((tmp_path / "node.json").read_text())
    assert len(node_doc["clips"]) == 2 and not node_doc.get("partial")
    assert without_timings(node_doc) == without_timings(json.loads((tmp_path / "py.json").read_text()))


def test_node_client_reports_statuses_like_the_python_client(served, tmp_path, node):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    res = run_node(node, str(bad), "--target", served.grpc_target, "--model", served.model, "--token", served.token)
    assert res.returncode == 2
    assert "INVALID_ARGUMENT" in res.stderr and "cannot decode video" in res.stderr
    res = run_node(node, str(bad), "--target", served.grpc_target, "--model", served.model, "--token", "wrong")
    assert res.returncode == 2 and "PERMISSION_DENIED" in res.stderr
    res = run_node(node, str(tmp_path / "missing.mp4"))
    assert res.returncode == 2 and "video file not found" in res.stderr
