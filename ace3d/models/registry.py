"""Model families by name: a spec `NAME[:PATH]` picks a family, and the family builds the Classifier.

Adding a family is one `register(Family(...))` in its own module, imported by `ace3d/models/__init__.py`;
`load` and the CLI's help list whatever is registered."""

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
    """What the runtime knows of one kind of model before loading it. `None` fields come from the checkpoint
    or its config (the trained default model and TorchScript files describe themselves)."""

    name: str
    loader: Loader
    default_layer: str | None = None
    clip_shape: tuple[int, int, int] | None = None
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    class_names: tuple[str, ...] | None = None
    needs_path: bool = True
    default_path: Callable[[], Path] | None = None  # the file a spec without PATH loads (archives copy it)
    summary: str = ""


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    if family.name in FAMILIES:
        raise ValueError(f"model family {family.name!r} is registered twice")
    FAMILIES[family.name] = family
    return family


def spec_help() -> str:
    """One line per family for `--model` help texts."""
    return " | ".join(f.name + ("" if not f.needs_path else ":PATH") for f in FAMILIES.values())


def load(spec: str, layer: str | None = None, device: str | torch.device = "cpu",
         class_names: list[str] | None = None) -> Classifier:
    """Build a `Classifier` from a model spec `NAME[:PATH]`."""
    name, _, path_s = spec.partition(":")
    family = FAMILIES.get(name)
    if family is None:
        raise ModelError(f"unknown model kind {name!r}; use one of: {spec_help()}")
    if family.needs_path and not path_s:
        raise ModelError(f"model spec {spec!r} needs a checkpoint path: {name}:PATH "
                         f"(or 'demo' for the committed default model)")
    clf = family.loader(spec, Path(path_s) if path_s else None, layer or family.default_layer, class_names)
    return clf.to(device)
