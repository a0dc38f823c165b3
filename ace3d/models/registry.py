"""Model families by name: a spec `NAME[:PATH]` picks a family, and the family builds the Classifier.

Adding a family is one `register(Family(...))` in its own module, imported by `ace3d/models/__init__.py`;
`load`, the CLI's `--model` help and check, and the README's models table (`markdown_table`, checked by
tests/unit/test_registry.py) all list whatever is registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ace3d.errors import ModelError
from ace3d.models.classifier import Classifier

# loader(spec, path or None, layer or None (the family's default then), class names or None) -> Classifier
Loader = Callable[[str, Path | None, str | None, list[str] | None], Classifier]


@dataclass(frozen=True)
class Family:
    """What the runtime knows of one kind of model before loading it. The clip shape, normalisation and class
    names are the loader's to set on the `Classifier` (from constants, the checkpoint or its config), so they
    are not repeated here. `default_layer=None`: the layer the model file names (demo configs, TorchScript)."""

    name: str
    loader: Loader
    default_layer: str | None = None
    needs_path: bool = True
    default_path: Callable[[], Path] | None = None  # the file a spec without PATH loads (archives copy it)
    summary: str = ""


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} is registered twice")
    FAMILIES[family.name] = family
    return family


def spec_form(family: Family) -> str:
    """How a spec of this family is written: `NAME:PATH` where the path is needed, else `NAME[:PATH]`."""
    return family.name + (":PATH" if family.needs_path else "[:PATH]")


def listed() -> list[Family]:
    """The families in the order users see them: those that load without a path first, then as registered."""
    return sorted(FAMILIES.values(), key=lambda f: f.needs_path)


def spec_help() -> str:
    """Every family's spec form, for `--model` help texts and errors."""
    return " | ".join(spec_form(f) for f in listed())


def parse_spec(spec: str) -> tuple[Family, Path | None]:
    """The family and path of a model spec `NAME[:PATH]`, checked without loading anything (the CLI checks
    `--model` with it before any work)."""
    name, _, path_s = spec.partition(":")
    family = FAMILIES.get(name)
    if family is None:
        raise ModelError(f"unknown model kind {name!r}; use one of: {spec_help()}")
    if family.needs_path and not path_s:
        raise ModelError(f"model spec {spec!r} needs a checkpoint path: {name}:PATH "
                         f"(or 'demo' for the committed default model)")
    return family, Path(path_s) if path_s else None


def load(spec: str, layer: str | None = None, device: str | torch.device = "cpu",
         class_names: list[str] | None = None) -> Classifier:
    """Build a `Classifier` from a model spec `NAME[:PATH]`."""
    family, path = parse_spec(spec)
    clf = family.loader(spec, path, layer or family.default_layer, class_names)
    return clf.to(device)


def markdown_table() -> str:
    """The README's models table: one row per family."""
    rows = ["| `--model` | default layer | what it loads |", "| --- | --- | --- |"]
    for f in listed():
        layer = f"`{f.default_layer}`" if f.default_layer else "the one the file names"
        rows.append(f"| `{spec_form(f)}` | {layer} | {f.summary} |")
    return "\n".join(rows)
