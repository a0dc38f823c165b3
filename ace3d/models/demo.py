"""Models written by `ace3d train` (`demo` is the committed default model): a JSON config (builder
arguments, clip, normalisation, class names, layer, training record) beside a weights-only state dict."""

from __future__ import annotations

import json
from pathlib import Path

from torch import nn

from ace3d.errors import ModelError
from ace3d.models.checkpoints import load_state, read_state
from ace3d.models.classifier import INPUT_TRANSFORMS, Classifier, cut
from ace3d.models.pytorchvideo_nets import blocks, build_x3d
from ace3d.models.registry import Family, register

ASSETS = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_CONFIG = ASSETS / "demo_model.json"


def build_from_config(cfg: dict) -> nn.Module:
    """The network a config describes: a small X3D (the default model) or the Kinetics I3D cut at a stage
    with a new head (`ace3d train --init i3d_kinetics400`)."""
    if cfg["arch"] == "x3d":
        return build_x3d(num_classes=len(cfg["class_names"]), **cfg["builder"])
    if cfg["arch"] == "i3d_transfer":
        from ace3d.models.i3d_net import build_i3d_transfer

        return build_i3d_transfer(cfg["builder"]["cut"], len(cfg["class_names"]))
    raise ModelError(f"unsupported arch {cfg['arch']!r} in a trained model's config (x3d or i3d_transfer)")


def load_config(cfg_path: Path, layer: str | None = None) -> Classifier:
    """Load a model trained by `ace3d train` from its JSON config."""
    if not cfg_path.is_file():
        raise ModelError(f"model config not found: {cfg_path}")
    cfg = json.loads(cfg_path.read_text())
    net = build_from_config(cfg)
    weights = cfg_path.with_name(cfg["weights"])
    load_state(net, read_state(weights), weights)
    stages = blocks(net) if cfg["arch"] == "x3d" else list(net.named_children())
    if cfg.get("input_transform"):
        stages = [("input", INPUT_TRANSFORMS[cfg["input_transform"]]), *stages]
    return cut(cfg.get("name", "demo"), net, stages, layer or cfg["layer"], tuple(cfg["clip_shape"]),
               tuple(cfg["mean"]), tuple(cfg["std"]), cfg["class_names"], frame_rate=cfg.get("frame_rate"))


def _load(spec: str, path: Path | None, layer: str | None, names: list[str] | None) -> Classifier:
    return load_config(path or DEFAULT_CONFIG, layer)


register(Family("demo", _load, needs_path=False,
                summary="the committed default model (its layer: `blocks.2`), or `demo:CONFIG.json`: any model "
                "written by `ace3d train`"))
