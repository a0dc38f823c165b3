"""Where serving finds what lives beside the package in the project's checkout: the TorchServe handler
(handlers/) and the reference configurations (model_store/). Looked up in one place, in this order: the
folder named by ACE3D_PROJECT, the checkout this package runs from (an editable install or the source
tree), the current directory."""

from __future__ import annotations

import os
from pathlib import Path

from ace3d.errors import Ace3dError

PACKAGE = Path(__file__).resolve().parent.parent
MARKER = Path("handlers") / "ace3d_handler.py"


class ServeError(Ace3dError):
    """Building an archive or running TorchServe failed in a way the user can act on."""

    reason = "serve"


def project_root() -> Path:
    """The project folder that holds handlers/ and model_store/."""
    candidates = [Path(p) for p in (os.environ.get("ACE3D_PROJECT"),) if p]
    candidates += [PACKAGE.parent, Path.cwd()]
    for folder in candidates:
        if (folder / MARKER).is_file():
            return folder.resolve()
    raise ServeError(f"cannot find the ace3d project folder (with {MARKER}) in "
                     + ", ".join(str(c) for c in candidates)
                     + ": run from the project checkout or set ACE3D_PROJECT to it")


def project_file(relative: str) -> Path:
    """A file of the project folder, e.g. project_file('model_store/config.properties')."""
    return project_root() / relative
