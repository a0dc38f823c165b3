"""Scripted nets (`torchscript:PATH`): a pytorchvideo or torchvision video net, or any net whose top-level
children run in order. The file may carry `ace3d.json` (clip_shape, mean, std, class_names, layer) as an
extra file; without it the clip is 16 x 112 x 112 with Kinetics normalisation."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ace3d.errors import ModelError
from ace3d.models import torchvision_nets
from ace3d.models.checkpoints import class_names
from ace3d.models.classifier import Classifier, Stage, cut
from ace3d.models.pytorchvideo_nets import KINETICS_MEAN, KINETICS_STD
from ace3d.models.registry import Family, register

DEFAULT_CLIP = (16, 112, 112)


def script_stages(net) -> list[Stage]:
    """Stages of a scripted net: pytorchvideo `blocks`, torchvision's video ResNets and S3D, or else the
    top-level children in order (a Linear child gets its input flattened)."""
    if hasattr(net, "blocks"):
        return [(f"blocks.{n}", m) for n, m in net.blocks.named_children()]
    if all(hasattr(net, a) for a in ("stem", "layer4", "avgpool", "fc")):
        return torchvision_nets.stages(net, "r3d_18")
    if all(hasattr(net, a) for a in ("features", "avgpool", "classifier")):
        return torchvision_nets.stages(net, "s3d")
    stages: list[Stage] = []
    for n, m in net.named_children():
        if m.original_name == "Linear":
            stages.append((n, lambda x, m=m: m(x.flatten(1))))
        else:
            stages.append((n, m))
    return stages


def load(spec: str, path: Path | None, layer: str | None, names: list[str] | None) -> Classifier:
    if not path.is_file():
        raise ModelError(f"TorchScript file not found: {path}")
    extra = {"ace3d.json": ""}
    try:
        net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"cannot load TorchScript file {path}: {exc}") from exc
    meta = json.loads(extra["ace3d.json"] or "{}")
    stages = script_stages(net)
    if len(stages) < 2:
        raise ModelError(f"TorchScript model {path} has no sequential stages to cut at a layer; script a "
                         "pytorchvideo net (with `blocks`), a torchvision video net, or a net whose top-level "
                         "children run in order")
    chosen = layer or meta.get("layer") or [n for n, _ in stages][-2]
    clip_shape = tuple(meta.get("clip_shape", DEFAULT_CLIP))
    probe = torch.zeros(1, 3, *clip_shape)
    try:
        with torch.no_grad():
            out = net(probe)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"TorchScript model {path} fails on a {tuple(probe.shape)} clip: {exc}") from exc
    n = int(out.shape[-1])
    return cut(spec, net, stages, chosen, clip_shape, tuple(meta.get("mean", KINETICS_MEAN)),
               tuple(meta.get("std", KINETICS_STD)), class_names(n, names or meta.get("class_names")))


register(Family("torchscript", load, summary="a scripted pytorchvideo or torchvision net, or one whose children "
                "run in order; an extra file `ace3d.json` may carry `clip_shape`, `mean`, `std`, `class_names`, "
                "`layer` (default layer: the last stage but one)"))
