"""The model archive carries what serving needs and nothing else (no training, evaluation, benchmarking,
load-testing or fuzzing code), and what it carries is derived from the handler's imports."""

import zipfile

from ace3d.tooling.archive import build_archive
from ace3d.tooling.served import served_files, served_modules

BANNED = ("evaluation/", "jobs/", "tooling/", "htmlreport/", "clients/", "cli/",
          "report.py", "fuzz")


def test_archive_holds_only_the_served_code(tiny_model_json, tiny_bank_path, tmp_path):
    mar = build_archive(f"demo:{tiny_model_json}", tiny_bank_path, "tiny", tmp_path)
    names = set(zipfile.ZipFile(mar).namelist())
    for needed in ("ace3d_handler.py", "serving.json", "bank.npz", "metrics.yaml", "ace3d/method/explainer.py",
                   "ace3d/models/engine.py", "ace3d/serving/service.py", "ace3d/serving/protocol.py",
                   "ace3d/serving/quality.py", "ace3d/v1/__init__.py", "ace3d/memory.py",
                   "ace3d/models/kinetics400_label_map.txt", "ace3d_client/v1/explanation_pb2.py",
                   "ace3d_client/errors.py", "ace3d_client/wire.py"):
        assert needed in names, needed
    code = [n for n in names if n.endswith(".py")]
    for banned in (*BANNED, "ace3d_client/client.py", "ace3d_client/cli.py"):
        assert not [n for n in code if banned in n], banned
    assert not [n for n in names if "__pycache__" in n or n.startswith("ace3d/assets")]
    shipped = {n for n in names if n.startswith("ace3d/")}
    assert shipped == {f"ace3d/{f.as_posix()}" for f in served_files()}  # exactly the derived set


def test_served_set_follows_imports_inside_functions(tmp_path):
    """A module the handler reaches only through an import inside a function is shipped; one it never reaches
    is not."""
    entry = tmp_path / "handler.py"
    entry.write_text("from ace3d import errors\n\n\ndef later():\n    from ace3d.method.tcav import concept_tcav\n")
    reached = served_modules(entry)
    assert {"ace3d", "ace3d.errors", "ace3d.method", "ace3d.method.tcav", "ace3d.models"} <= reached
    assert not {m for m in reached if m.startswith(("ace3d.jobs", "ace3d.evaluation", "ace3d.serving"))}


def test_handler_reaches_no_offline_code():
    files = [f.as_posix() for f in served_files()]
    assert "serving/service.py" in files and "method/explainer.py" in files
    for banned in BANNED:
        assert not [f for f in files if banned in f], banned
