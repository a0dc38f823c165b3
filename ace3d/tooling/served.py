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
CLIENT = "ace3d_client"  # the client distribution (clients/python): ace3d imports its messages, errors, wire
SKIP_DIRS = ("__pycache__", "assets")  # compiled files; model weights travel apart (the archive's model/)


def client_dir() -> Path:
    import ace3d_client

    return Path(ace3d_client.__file__).resolve().parent


def module_file(name: str) -> Path | None:
    """The file of an ace3d or ace3d_client module or package `name` (dotted), None when it is not one."""
    root = name.split(".")[0]
    if root not in (ROOT, CLIENT):
        return None
    base = (PACKAGE.parent if root == ROOT else client_dir().parent).joinpath(*name.split("."))
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
            if name.split(".")[0] in (ROOT, CLIENT) and module_file(name) is not None:
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


def served_files(entry: Path | None = None, package: Path | None = None) -> list[Path]:
    """Files to ship of `package` (ace3d; or the client's, `client_dir()`), relative to it: the modules
    reached, and the data files of their folders."""
    package = package or PACKAGE
    root = ROOT if package == PACKAGE else CLIENT
    files = {module_file(m).relative_to(package) for m in served_modules(entry) if m.split(".")[0] == root}
    for folder in {f.parent for f in files}:
        files |= {p.relative_to(package) for p in (package / folder).iterdir()
                  if p.is_file() and p.suffix not in (".py", ".pyc", ".pyi") and p.name not in SKIP_DIRS}
    return sorted(files)


def copy_served_package(dest: Path) -> Path:
    """Copy the served part of ace3d (`served_files`) to dest/ace3d, and of ace3d_client to dest/ace3d_client."""
    for package, name in ((PACKAGE, ROOT), (client_dir(), CLIENT)):
        for rel in served_files(package=package):
            out = dest / name / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(package / rel, out)
    return dest / ROOT
