"""torchvision's video ResNets (r3d_18, mc3_18, r2plus1d_18) and S3D, from their state dicts."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ace3d.models.checkpoints import class_names, load_state, num_classes, read_state
from ace3d.models.classifier import Classifier, Stage, cut
from ace3d.models.registry import Family, register

TV_MEAN = (0.43216, 0.394666, 0.37645)
TV_STD = (0.22803, 0.22145, 0.216989)
ARCHS = {"r3d_18": "layer4", "mc3_18": "layer4", "r2plus1d_18": "layer4", "s3d": "features.15"}


def stages(net: nn.Module, arch: str) -> list[Stage]:
    """The stages of a torchvision video net: stem and four layers for the ResNets, features for S3D."""
    if arch == "s3d":
        out: list[Stage] = [(f"features.{n}", m) for n, m in net.features.named_children()]

        def s3d_head(x: torch.Tensor) -> torch.Tensor:
            return net.classifier(net.avgpool(x)).mean(dim=(2, 3, 4))

        return [*out, ("head", s3d_head)]

    def resnet_head(x: torch.Tensor) -> torch.Tensor:
        return net.fc(net.avgpool(x).flatten(1))

    return [("stem", net.stem), *[(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)],
            ("head", resnet_head)]


def _clip_shape(arch: str) -> tuple[int, int, int]:
    size = 224 if arch == "s3d" else 112
    return (16, size, size)


def _loader(arch: str):
    def load(spec: str, path: Path | None, layer: str | None, names: list[str] | None) -> Classifier:
        import torchvision.models.video as tvv

        state = read_state(path)
        n = num_classes(state, ("fc.weight", "classifier.1.weight"))
        net = getattr(tvv, arch)(num_classes=n)
        load_state(net, state, path)
        return cut(spec, net, stages(net, arch), layer, _clip_shape(arch), TV_MEAN, TV_STD, class_names(n, names))
    return load


for _arch, _layer in ARCHS.items():
    register(Family(_arch, _loader(_arch), default_layer=_layer, summary="torchvision state dict"))
