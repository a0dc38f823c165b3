"""Reading weights from local files without executing code (`torch.load(weights_only=True)`), shared by
every model family. Nothing is ever downloaded."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ace3d.errors import ModelError


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors from a checkpoint (plain, or under model_state / state_dict / model)."""
    if not path.is_file():
        raise ModelError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle refusals and corrupt files alike
        raise ModelError(f"cannot read checkpoint {path} as a weights-only state dict: {exc}") from exc
    for key in ("model_state", "state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelError(f"{path} is not a state dict of tensors")
    return obj


def load_state(net: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"checkpoint {path} does not fit the architecture: {first}") from exc


def num_classes(state: dict[str, torch.Tensor], keys: tuple[str, ...]) -> int:
    """Outputs of the classifier layer, read from the first of `keys` the checkpoint has."""
    for k in keys:
        if k in state:
            return int(state[k].shape[0])
    raise ModelError("cannot infer the number of classes: no classifier weight in the checkpoint")


def class_names(n: int, names: list[str] | None) -> list[str]:
    """The given names (checked against the outputs), else class_0 ... class_{n-1}."""
    if names and len(names) != n:
        raise ModelError(f"{len(names)} class names given for a model with {n} outputs")
    return list(names) if names else [f"class_{i}" for i in range(n)]
