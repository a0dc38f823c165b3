"""The layering contract of .importlinter (run by `make lint`) holds on the package and fails on a copy of it
that gains one wrong import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _copy(tmp: Path) -> Path:
    shutil.copytree(ROOT / "ace3d", tmp / "ace3d", ignore=shutil.ignore_patterns("__pycache__", "assets"))
    shutil.copy2(ROOT / ".importlinter", tmp / ".importlinter")
    return tmp


def _lint(where: Path) -> subprocess.CompletedProcess:
    assert LINT.is_file(), f"{LINT} missing: import-linter is pinned in requirements.txt (make venv)"
    env = {"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin", "COLUMNS": "300"}  # one line per contract
    return subprocess.run([str(LINT), "--no-cache", "--config", str(where / ".importlinter")], cwd=where,
                          capture_output=True, text=True, env=env)


def test_the_package_keeps_its_contracts(tmp_path):
    res = _lint(_copy(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


@pytest.mark.parametrize("module, line, contract", [
    ("method/bank.py", "from ace3d.jobs import bank_plan", "Layers"),  # the method reaching up into jobs
    ("models/engine.py", "from ace3d.serving import protocol", "Layers"),
    ("serving/service.py", "from ace3d.evaluation import metrics", "Serving"),
    ("memory.py", "import ts.torch_handler", "ace3d never imports TorchServe"),
])
def test_one_wrong_import_breaks_the_build(tmp_path, module, line, contract):
    where = _copy(tmp_path)
    path = where / "ace3d" / module
    path.write_text(path.read_text() + f"\n\ndef _wrong():\n    {line}  # noqa\n")
    res = _lint(where)
    assert res.returncode != 0, res.stdout
    broken = [ln for ln in res.stdout.splitlines() if " BROKEN" in ln]
    assert any(ln.startswith(contract) for ln in broken), res.stdout
