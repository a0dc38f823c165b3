"""pytorchvideo's X3D and Slow R50 (checkpoints as `{"model_state": ...}` or plain state dicts), and the
builders the trained default model and the benchmarks use."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from ace3d.models.checkpoints import class_names, load_state, num_classes, read_state
from ace3d.models.classifier import Classifier, Stage, cut
from ace3d.models.registry import Family, register

KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
X3D_PRESETS = {  # (clip length, crop, depth factor) from the X3D paper / pytorchvideo hub
    "x3d_xs": (4, 160, 2.2),
    "x3d_s": (13, 160, 2.2),
    "x3d_m": (16, 224, 2.2),
}
HEAD_KEYS = ("blocks.5.proj.weight",)


def build_x3d(*, num_classes: int, clip_len: int = 16, crop: int = 112, width_factor: float = 2.0,
              depth_factor: float = 2.2, bottleneck_factor: float = 2.25, head_dim_out: int = 2048,
              stem_dim_in: int = 12, dropout: float = 0.5) -> nn.Module:
    """pytorchvideo's X3D, returning logits (its default head ends in a softmax)."""
    from pytorchvideo.models.x3d import create_x3d

    return create_x3d(input_clip_length=clip_len, input_crop_size=crop, model_num_class=num_classes,
                      width_factor=width_factor, depth_factor=depth_factor, bottleneck_factor=bottleneck_factor,
                      head_dim_out=head_dim_out, stem_dim_in=stem_dim_in, dropout_rate=dropout,
                      head_activation=None)


def build_slow_r50(*, num_classes: int) -> nn.Module:
    from pytorchvideo.models.resnet import create_resnet

    return create_resnet(model_depth=50, model_num_class=num_classes, stem_conv_kernel_size=(1, 7, 7),
                         head_pool_kernel_size=(8, 7, 7), head_activation=None)


def blocks(net: nn.Module) -> list[Stage]:
    """A pytorchvideo net's stages: its `blocks`, in order."""
    return [(f"blocks.{i}", b) for i, b in enumerate(net.blocks)]


def _loader(arch: str):
    def load(spec: str, path: Path | None, layer: str | None, names: list[str] | None) -> Classifier:
        state = read_state(path)
        n = num_classes(state, HEAD_KEYS)
        if arch == "slow_r50":
            net, clip_shape = build_slow_r50(num_classes=n), (8, 224, 224)
        else:
            clip_len, crop, depth = X3D_PRESETS[arch]
            net, clip_shape = build_x3d(num_classes=n, clip_len=clip_len, crop=crop, depth_factor=depth), \
                (clip_len, crop, crop)
        load_state(net, state, path)
        return cut(spec, net, blocks(net), layer, clip_shape, KINETICS_MEAN, KINETICS_STD, class_names(n, names))
    return load


_CHECKPOINT = 'checkpoint (`{"model_state": ...}` or a plain state dict)'
for _arch in X3D_PRESETS:
    register(Family(_arch, _loader(_arch), default_layer="blocks.4", summary=f"pytorchvideo X3D {_CHECKPOINT}"))
register(Family("slow_r50", _loader("slow_r50"), default_layer="blocks.4",
                summary=f"pytorchvideo Slow R50 {_CHECKPOINT}"))
