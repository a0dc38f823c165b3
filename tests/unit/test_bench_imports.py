"""The benchmarks (bench/) import what the package really has: they run by hand, not in `make test`, so a moved
module would otherwise only show when someone next measures (bench/i3d_soak.py once imported the archive tools
from their old place, and failed only when run)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
SCRIPTS = sorted(BENCH.rglob("*.py"))


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """Every `from ace3d... import ...` in a file, at any depth (benchmarks import lazily inside functions)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("ace3d", "ace3d_client"):
            out.append((node.module, [a.name for a in node.names], node.lineno))
    return out


@pytest.mark.parametrize("path", SCRIPTS, ids=[str(p.relative_to(BENCH)) for p in SCRIPTS])
def test_bench_imports_resolve(path):
    for module, names, line in _imports(path):
        mod = importlib.import_module(module)
        missing = [n for n in names if n != "*" and not hasattr(mod, n)
                   and importlib.util.find_spec(f"{module}.{n}") is None]
        assert not missing, f"{path.name}:{line}: {module} has no {', '.join(missing)}"


def test_the_benchmarks_are_found():
    assert {"i3d_soak.py", "batching.py"} <= {p.name for p in SCRIPTS}
