"""What a model archive ships of the ace3d package, derived from the code rather than kept by hand: every ace3d
module the TorchServe handler imports, directly or through other ace3d modules (imports inside functions
included), with the packages that contain them and the data files that sit beside them (label maps,
licences). Whatever the handler cannot reach (training, evaluation, benchmarks, clients, this tooling) stays
out."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from ace3d.tooling.project import PACKAGE, project_file

ROOT = PACKAGE.name  # "ace3d"
SKIP_DIRS = ("__pycache__", "assets")  # compiled files; model weights travel apart (the archive's model/)


def module_file(name: str) -> Path | None:
    """The file of an ace3d module or package `name` (dotted), None when it is not one (a class, a function)."""
    base = PACKAGE.parent.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(source: Path) -> set[str]:
    """The ace3d modules and packages a file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] == ROOT and module_file(name) is not None:
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))  # parents run first
    return found


def served_modules(entry: Path | None = None) -> set[str]:
    """The closure of ace3d modules reached from the handler (`entry`)."""
    todo = imported_modules(entry or project_file("handlers/ace3d_handler.py"))
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo |= imported_modules(module_file(name)) - seen
    return seen


def served_files(entry: Path | None = None) -> list[Path]:
    """Files to ship, relative to the package: the modules reached, and the data files of their folders."""
    files = {module_file(m).relative_to(PACKAGE) for m in served_modules(entry)}
    for folder in {f.parent for f in files}:
        files |= {p.relative_to(PACKAGE) for p in (PACKAGE / folder).iterdir()
                  if p.is_file() and p.suffix not in (".py", ".pyc", ".pyi") and p.name not in SKIP_DIRS}
    return sorted(files)


def copy_served_package(dest: Path) -> Path:
    """Copy the served part of ace3d (`served_files`) to dest/ace3d."""
    root = dest / ROOT
    for rel in served_files():
        out = root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PACKAGE / rel, out)
    return root
