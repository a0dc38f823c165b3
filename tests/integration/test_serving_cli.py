"""`ace3d client` and `ace3d archive` as a user runs them, against the session's server (see conftest.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ace3d.cli import main
from ace3d.wire import explanation_from_json

pytestmark = pytest.mark.integration


def test_client_cli_writes_table_json_and_overlay(served, long_video, tmp_path, capsys):
    video = tmp_path / "long.mp4"
    video.write_bytes(long_video)
    key_file = served.server.key_file
    rc = main(["client", str(video), "--target", served.grpc_target, "--model", served.model, "--token-file",
               str(key_file), "--stream", "--max-clips", "2", "--json", str(tmp_path / "e.json"),
               "--overlay", str(tmp_path / "e.gif"), "--deadline", "60"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "clip 1/2 done" in out and "clip 2/2 done" in out and "prediction:" in out and "target:" in out
    exp = explanation_from_json((tmp_path / "e.json").read_text())
    assert len(exp.clips) == 2 and not exp.partial
    from PIL import Image

    with Image.open(tmp_path / "e.gif") as gif:
        assert gif.n_frames == 2 * len(exp.clips[0].frame_indices)


def test_client_cli_reports_server_errors_in_one_line(served, tmp_path, capsys):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    rc = main(["client", str(bad), "--target", served.grpc_target, "--model", served.model, "--token",
               served.token, "--json", str(tmp_path / "never.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "INVALID_ARGUMENT" in err and "cannot decode video" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "never.json").exists()
    rc = main(["client", str(bad), "--target", served.grpc_target, "--model", served.model])
    assert rc == 2 and "PERMISSION_DENIED" in capsys.readouterr().err  # no token: token authorization is on


def test_client_cli_bench(served, tmp_path, capsys):
    rc = main(["client", "default", "--bench", "2", "--target", served.grpc_target, "--model", served.model,
               "--token", served.token, "--json", str(tmp_path / "bench.json")])
    assert rc == 0
    res = json.loads((tmp_path / "bench.json").read_text())
    for kind in ("explain", "classify_only"):
        assert res[kind]["n"] == 2 and 0 < res[kind]["p50_ms"] <= res[kind]["p99_ms"]
    assert res["ratio_explain_to_classify_p50"] > 0


def _foreign_bank(served, tmp_path):
    """The session's bank, claiming to come from another model."""
    with np.load(served.bank, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(bytes(arrays["meta"]).decode())
    meta["model"]["fingerprint"] = "0" * 16
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    other = tmp_path / "other_bank.npz"
    np.savez(other, **arrays)
    return other


def test_archive_refuses_a_bank_of_another_model(served, tmp_path, capsys):
    """A bank whose recorded model fingerprint differs is refused before any archive is written."""
    other = _foreign_bank(served, tmp_path)
    rc = main(["archive", "--model", served.spec, "--bank", str(other), "--name", "x", "--out", str(tmp_path)])
    assert rc == 2 and "does not match the model" in capsys.readouterr().err
    assert not (tmp_path / "x.mar").exists()


def test_serve_fails_fast_when_the_worker_cannot_load(served, tmp_path, capsys):
    """An archive built without the check: the handler refuses the pair at load, and `ace3d serve` reports
    that at once instead of waiting for a worker TorchServe restarts forever. Nothing is left running."""
    from ace3d.tooling.archive import build_archive
    from ace3d.tooling.server import Ports

    build_archive(served.spec, _foreign_bank(served, tmp_path), "broken", tmp_path / "store", check=False)
    p = Ports.free()
    rc = main(["serve", "--archive", "broken", "--name", "broken", "--model-store", str(tmp_path / "store"),
               "--runtime", str(tmp_path / "rt"), "--grpc-port", str(p.grpc_inference), "--inference-port",
               str(p.inference), "--management-port", str(p.management), "--metrics-port", str(p.metrics),
               "--grpc-management-port", str(p.grpc_management), "--timeout", "120"])
    err = capsys.readouterr().err
    assert rc == 2 and "the model cannot load" in err and "does not match the model" in err
    assert not (tmp_path / "rt" / "server.json").exists()
