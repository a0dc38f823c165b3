"""The Node client's decoding and rendering (clients/node/index.js) against Python's, without a server: hand-made
Explanations with the awkward cases (optional fields at zero, tiny p-values, CLIP concepts, a collapsed map, a
classification-only clip, an error, float16 and uint16 volumes, non-finite floats) go through Node's decoder, `table`,
`toCanonicalJson` and `volume`, and must give what ace3d.report.table, ace3d.wire.to_json and from_volume give."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ace3d import report, wire
from ace3d.v1 import explanation_pb2 as pb

NODE_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "node"

SCRIPT = """
const c = require(process.argv[1]); const fs = require('fs');
const s = c.loadSchema();
const out = process.argv.slice(2).map((f) => {
  const e = s.Explanation.decode(fs.readFileSync(f));
  const vols = e.clips.flatMap((k) => [k.heatmap, k.conceptMap].filter(Boolean)).map((v) => {
    const x = c.volume(v); return { shape: x.shape, dtype: x.dtype, data: Array.from(x.data) }; });
  return { table: c.table(e), json: c.toCanonicalJson(e), vols };
});
process.stdout.write(JSON.stringify(out));
"""


def _explanations() -> list[pb.Explanation]:
    rng = np.random.default_rng(5)
    heat = rng.random((4, 6, 5)).astype(np.float16)
    cmap = rng.integers(0, 4, (4, 6, 5)).astype(np.uint16)
    bank = pb.ConceptInstance(id=3, name="move_right/concept_3", importance=1.23456, tcav_score=0.0, p_value=3.2e-7,
                              p_value_raw=1.0e-5, significant=True, coverage=0.125, supervoxels=4)
    plain = pb.ConceptInstance(id=1, name="move_right/concept_1", importance=-0.0004, tcav_score=1.0, p_value=0.5,
                               p_value_raw=0.04999, significant=False, coverage=0.8, supervoxels=12)
    group = pb.ConceptInstance(id=2, name="clip/group_2", importance=0.1, coverage=0.3, supervoxels=2,
                               source=pb.ConceptInstance.CLIP)
    clip = pb.ClipExplanation(clip_index=0, frame_indices=[0, 2, 4, 6], region=pb.Region(x=3, width=64, height=48),
                              scores=[pb.ClassScore(name="move_right", index=1, probability=0.9, logit=2.5)],
                              concepts=[bank, plain, group], concept_map=wire.to_volume(cmap),
                              heatmap=wire.to_volume(heat), instance_score=4.0425, top_concept_removed_score=-1.9775,
                              baseline_score=float("nan"), supervoxel_count=18, collapsed=True, top_coverage=0.62548)
    full = pb.Explanation(model_name="demo", bank_id="45f8", target_class="move_right", target_index=1,
                          scores=[pb.ClassScore(name="move_right", index=1, probability=0.97497, logit=4.0427),
                                  pb.ClassScore(name="no_motion", index=4, probability=1e-9, logit=-float("inf"))],
                          clips=[clip, pb.ClipExplanation(clip_index=1, region=pb.Region())], clip_count=2,
                          feature_mode="pooled", timings_ms={"decode": 1.5, "total": 80.25})
    classify_only = pb.Explanation(model_name="m", scores=[pb.ClassScore(name="a", probability=0.5)],
                                   clips=[pb.ClipExplanation(frame_indices=[7])], partial=True, clip_count=3,
                                   scored_clips=4)
    error = pb.Explanation(error=pb.Error(status=400, reason="bad_video", message="cannot decode video"))
    return [full, classify_only, error, pb.Explanation()]


def test_node_decodes_and_renders_like_python(tmp_path):
    node = shutil.which("node")
    if node is None or not (NODE_CLIENT / "node_modules" / "protobufjs").is_dir():
        pytest.fail("needs node and clients/node/node_modules: run `make node-client`")
    exps = _explanations()
    files = []
    for i, exp in enumerate(exps):
        files.append(tmp_path / f"e{i}.pb")
        files[-1].write_bytes(exp.SerializeToString())
    res = subprocess.run([node, "-e", SCRIPT, str(NODE_CLIENT), *map(str, files)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert len(got) == len(exps)
    for exp, g in zip(exps, got, strict=True):
        assert g["table"] == report.table(exp)
        assert g["json"] == json.loads(wire.to_json(exp))
        want_vols = [wire.from_volume(v) for c in exp.clips for v in (c.heatmap, c.concept_map) if c.HasField(
            "heatmap")]
        assert len(g["vols"]) == len(want_vols)
        for v, w in zip(g["vols"], want_vols, strict=True):
            assert v["shape"] == list(w.shape) and v["dtype"] == w.dtype.name
            assert np.array_equal(np.asarray(v["data"], np.float64), w.astype(np.float64).ravel())
    assert "clip/group_<n>" in got[0]["table"] and "3.2e-07" in got[0]["table"]


def test_node_cli_takes_a_token_that_starts_with_a_dash(tmp_path):
    """TorchServe's random keys can start with '-': `--token -Xy...` must reach the call (here: a port with no
    server, so the call fails UNAVAILABLE), not stop at the argument parser."""
    node = shutil.which("node")
    if node is None or not (NODE_CLIENT / "node_modules" / "protobufjs").is_dir():
        pytest.fail("needs node and clients/node/node_modules: run `make node-client`")
    video = tmp_path / "v.mp4"
    video.write_bytes(b"not really a video")
    res = subprocess.run([node, str(NODE_CLIENT / "cli.js"), str(video), "--target", "127.0.0.1:1", "--token",
                          "-Xy3kQ", "--deadline", "5"], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "ambiguous" not in res.stderr and "UNAVAILABLE" in res.stderr + res.stdout, res.stderr
