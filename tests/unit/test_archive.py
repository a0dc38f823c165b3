"""The model archive carries what serving needs and nothing else (no training, evaluation, benchmarking,
load-testing or fuzzing code)."""

import zipfile

from ace3d.serving.archive import build_archive


def test_archive_holds_only_the_served_code(tiny_model_json, tiny_bank_path, tmp_path):
    mar = build_archive(f"demo:{tiny_model_json}", tiny_bank_path, "tiny", tmp_path)
    names = set(zipfile.ZipFile(mar).namelist())
    for needed in ("ace3d_handler.py", "serving.json", "bank.npz", "metrics.yaml", "ace3d/method/explainer.py",
                   "ace3d/models/engine.py", "ace3d/serving/service.py", "ace3d/serving/protocol.py",
                   "ace3d/serving/quality.py", "ace3d/v1/explanation_pb2.py", "ace3d/memory.py"):
        assert needed in names, needed
    code = [n for n in names if n.endswith(".py")]
    for banned in ("ace3d/evaluation/", "ace3d/jobs/", "ace3d/serving/client.py", "ace3d/serving/loadtest.py",
                   "ace3d/serving/archive.py", "ace3d/serving/server.py", "ace3d/cli/", "fuzz"):
        assert not [n for n in code if banned in n], banned
    assert not [n for n in names if "__pycache__" in n or n.startswith("ace3d/assets")]
