"""Models behind one interface: a `Classifier` is a 3D ConvNet cut at a bottleneck layer into a trunk
(clip -> activation) and a head (activation -> logits), so features, predictions and bottleneck-level
removals all come from the same forward pass.

`load(spec)` accepts:
  demo                                   the committed default model (ace3d/assets)
  x3d_xs|x3d_s|x3d_m|slow_r50:PATH       pytorchvideo checkpoints (.pyth: {"model_state": ...} or a state dict)
  r3d_18|mc3_18|r2plus1d_18|s3d:PATH     torchvision state dicts
  torchscript:PATH                       a scripted pytorchvideo-style net (with `blocks`) or any net
                                         whose top-level children run in sequence
Nothing is downloaded: every checkpoint comes from a local path. Checkpoints load with
`torch.load(weights_only=True)`, which never executes code."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ace3d.errors import ModelError

ASSETS = Path(__file__).resolve().parent / "assets"
KINETICS_MEAN = (0.45, 0.45, 0.45)
KINETICS_STD = (0.225, 0.225, 0.225)
TV_MEAN = (0.43216, 0.394666, 0.37645)
TV_STD = (0.22803, 0.22145, 0.216989)

Stage = tuple[str, Callable[[torch.Tensor], torch.Tensor]]


@dataclass
class Classifier:
    """A video classifier split at `layer`: `trunk(x)` gives the bottleneck activation B x C x t x h x w,
    `head(a)` the logits. Clips are uint8 T x H x W x 3 turned into tensors with `mean`/`std`."""

    name: str
    net: nn.Module
    stages: list[Stage]
    layer: str
    clip_shape: tuple[int, int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    class_names: list[str]
    fingerprint: str
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def split(self) -> int:
        names = [n for n, _ in self.stages]
        return names.index(self.layer) + 1

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages[: self.split]:
            x = stage(x)
        return x

    def head(self, a: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages[self.split:]:
            a = stage(a)
        return a.flatten(1)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))

    def to(self, device: str | torch.device) -> Classifier:
        self.device = torch.device(device)
        self.net.to(self.device)
        return self

    def pixel_scale(self, device: str | torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The normalisation in pixel units (0..255) per channel, shaped for channels-last (... x 3) clips:
        `(clip - mean) / std` is what the network takes."""
        dev = self.device if device is None else device
        return torch.tensor(self.mean, device=dev) * 255, torch.tensor(self.std, device=dev) * 255

    def input_reach(self, masks: torch.Tensor) -> torch.Tensor:
        """bool K x T x H x W input voxels -> the network-input voxels they change. Only a parameter-free input
        step can widen it: with first_frame_difference every frame is compared with frame 0, so changing a
        pixel of frame 0 changes that pixel in every frame."""
        first = self.stages[0][1] if self.stages else None
        if first is first_frame_difference:
            return masks | masks[:, :1]
        return masks

    def class_index(self, name: str) -> int:
        from ace3d.errors import OptionsError

        if name in self.class_names:
            return self.class_names.index(name)
        raise OptionsError(f"unknown target class {name!r}; this model's classes are: "
                           + ", ".join(self.class_names[:20]) + (" ..." if len(self.class_names) > 20 else ""),
                           reason="unknown_class")


def fingerprint(net: nn.Module) -> str:
    """A stable hash of the weights: the bank records it so a bank is only used with its own model."""
    h = hashlib.sha256()
    for name, t in sorted(net.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes()
                 if t.numel() else b"")
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- builders
def build_x3d(*, num_classes: int, clip_len: int = 16, crop: int = 112, width_factor: float = 2.0,
              depth_factor: float = 2.2, bottleneck_factor: float = 2.25, head_dim_out: int = 2048,
              stem_dim_in: int = 12, dropout: float = 0.5) -> nn.Module:
    """pytorchvideo's X3D, returning logits (its default head ends in a softmax)."""
    from pytorchvideo.models.x3d import create_x3d

    net = create_x3d(input_clip_length=clip_len, input_crop_size=crop, model_num_class=num_classes,
                     width_factor=width_factor, depth_factor=depth_factor, bottleneck_factor=bottleneck_factor,
                     head_dim_out=head_dim_out, stem_dim_in=stem_dim_in, dropout_rate=dropout,
                     head_activation=None)
    return net


def build_slow_r50(*, num_classes: int) -> nn.Module:
    from pytorchvideo.models.resnet import create_resnet

    return create_resnet(model_depth=50, model_num_class=num_classes, stem_conv_kernel_size=(1, 7, 7),
                         head_pool_kernel_size=(8, 7, 7), head_activation=None)


X3D_PRESETS = {  # (clip length, crop, depth factor) from the X3D paper / pytorchvideo hub
    "x3d_xs": (4, 160, 2.2),
    "x3d_s": (13, 160, 2.2),
    "x3d_m": (16, 224, 2.2),
}
PYTORCHVIDEO_ARCHS = (*X3D_PRESETS, "slow_r50")
TORCHVISION_ARCHS = ("r3d_18", "mc3_18", "r2plus1d_18", "s3d")
DEFAULT_LAYERS = {"x3d": "blocks.4", "slow_r50": "blocks.4", "r3d_18": "layer4", "mc3_18": "layer4",
                  "r2plus1d_18": "layer4", "s3d": "features.15", "torchscript": None}


def _pytorchvideo_stages(net: nn.Module) -> list[Stage]:
    return [(f"blocks.{i}", b) for i, b in enumerate(net.blocks)]


def _torchvision_stages(net: nn.Module, arch: str) -> list[Stage]:
    if arch == "s3d":
        stages: list[Stage] = [(f"features.{n}", m) for n, m in net.features.named_children()]

        def s3d_head(x: torch.Tensor) -> torch.Tensor:
            return net.classifier(net.avgpool(x)).mean(dim=(2, 3, 4))

        return [*stages, ("head", s3d_head)]

    def resnet_head(x: torch.Tensor) -> torch.Tensor:
        return net.fc(net.avgpool(x).flatten(1))

    return [("stem", net.stem), *[(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)],
            ("head", resnet_head)]


def _read_state(path: Path) -> dict[str, torch.Tensor]:
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


def _load_state(net: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise ModelError(f"checkpoint {path} does not fit the architecture: {first}") from exc


def _num_classes(state: dict[str, torch.Tensor], keys: tuple[str, ...]) -> int:
    for k in keys:
        if k in state:
            return int(state[k].shape[0])
    raise ModelError("cannot infer the number of classes: no classifier weight in the checkpoint")


def _class_names(n: int, names: list[str] | None) -> list[str]:
    if names and len(names) != n:
        raise ModelError(f"{len(names)} class names given for a model with {n} outputs")
    return list(names) if names else [f"class_{i}" for i in range(n)]


def load(spec: str, layer: str | None = None, device: str | torch.device = "cpu",
         class_names: list[str] | None = None) -> Classifier:
    """Build a `Classifier` from a model spec (see the module docstring)."""
    arch, _, path_s = spec.partition(":")
    if arch == "demo":
        return load_config(Path(path_s) if path_s else ASSETS / "demo_model.json", layer, device)
    if not path_s:
        raise ModelError(f"model spec {spec!r} needs a checkpoint path: {arch}:PATH "
                         f"(or 'demo' for the committed default model)")
    path = Path(path_s)
    if arch in X3D_PRESETS:
        clip_len, crop, depth = X3D_PRESETS[arch]
        state = _read_state(path)
        n = _num_classes(state, ("blocks.5.proj.weight",))
        net = build_x3d(num_classes=n, clip_len=clip_len, crop=crop, depth_factor=depth)
        _load_state(net, state, path)
        return _finish(spec, net, _pytorchvideo_stages(net), layer or DEFAULT_LAYERS["x3d"], (clip_len, crop, crop),
                       KINETICS_MEAN, KINETICS_STD, _class_names(n, class_names), device)
    if arch == "slow_r50":
        state = _read_state(path)
        n = _num_classes(state, ("blocks.5.proj.weight",))
        net = build_slow_r50(num_classes=n)
        _load_state(net, state, path)
        return _finish(spec, net, _pytorchvideo_stages(net), layer or DEFAULT_LAYERS[arch], (8, 224, 224),
                       KINETICS_MEAN, KINETICS_STD, _class_names(n, class_names), device)
    if arch in TORCHVISION_ARCHS:
        import torchvision.models.video as tvv

        state = _read_state(path)
        n = _num_classes(state, ("fc.weight", "classifier.1.weight"))
        net = getattr(tvv, arch)(num_classes=n)
        _load_state(net, state, path)
        size = 224 if arch == "s3d" else 112
        return _finish(spec, net, _torchvision_stages(net, arch), layer or DEFAULT_LAYERS[arch], (16, size, size),
                       TV_MEAN, TV_STD, _class_names(n, class_names), device)
    if arch == "torchscript":
        return _load_torchscript(spec, path, layer, device, class_names)
    raise ModelError(f"unknown model kind {arch!r}; use demo, {', '.join(PYTORCHVIDEO_ARCHS)}, "
                     f"{', '.join(TORCHVISION_ARCHS)} or torchscript, followed by :PATH")


def _load_torchscript(spec: str, path: Path, layer: str | None, device: str | torch.device,
                      class_names: list[str] | None) -> Classifier:
    """TorchScript files may carry `ace3d.json` (clip shape, mean, std, class names, layer) as an extra
    file; without it the clip is 16x112x112 with Kinetics normalisation."""
    if not path.is_file():
        raise ModelError(f"TorchScript file not found: {path}")
    extra = {"ace3d.json": ""}
    try:
        net = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"cannot load TorchScript file {path}: {exc}") from exc
    meta = json.loads(extra["ace3d.json"] or "{}")
    stages = _script_stages(net)
    if len(stages) < 2:
        raise ModelError(f"TorchScript model {path} has no sequential stages to cut at a layer; script a "
                         "pytorchvideo net (with `blocks`), a torchvision video net, or a net whose top-level "
                         "children run in order")
    names = [n for n, _ in stages]
    chosen = layer or meta.get("layer") or names[-2]
    probe = torch.zeros(1, 3, *meta.get("clip_shape", (16, 112, 112)))
    try:
        with torch.no_grad():
            out = net(probe)
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"TorchScript model {path} fails on a {tuple(probe.shape)} clip: {exc}") from exc
    n = int(out.shape[-1])
    return _finish(spec, net, stages, chosen, tuple(meta.get("clip_shape", (16, 112, 112))),
                   tuple(meta.get("mean", KINETICS_MEAN)), tuple(meta.get("std", KINETICS_STD)),
                   _class_names(n, class_names or meta.get("class_names")), device)


def _script_stages(net) -> list[Stage]:
    """Stages of a scripted net: pytorchvideo `blocks`, torchvision's video ResNets and S3D, or else the
    top-level children in order (a Linear child gets its input flattened)."""
    if hasattr(net, "blocks"):
        return [(f"blocks.{n}", m) for n, m in net.blocks.named_children()]
    if all(hasattr(net, a) for a in ("stem", "layer4", "avgpool", "fc")):
        return _torchvision_stages(net, "r3d_18")
    if all(hasattr(net, a) for a in ("features", "avgpool", "classifier")):
        return _torchvision_stages(net, "s3d")
    stages: list[Stage] = []
    for n, m in net.named_children():
        if m.original_name == "Linear":
            stages.append((n, lambda x, m=m: m(x.flatten(1))))
        else:
            stages.append((n, m))
    return stages


def _finish(spec: str, net: nn.Module, stages: list[Stage], layer: str, clip_shape: tuple[int, ...],
            mean: tuple[float, ...], std: tuple[float, ...], class_names: list[str],
            device: str | torch.device, name: str | None = None) -> Classifier:
    names = [n for n, _ in stages]
    if layer not in names[:-1]:
        raise ModelError(f"layer {layer!r} is not a bottleneck of this model; choose one of: "
                         + ", ".join(names[:-1]))
    net.eval()
    clf = Classifier(name=name or spec, net=net, stages=stages, layer=layer, clip_shape=tuple(clip_shape),
                     mean=tuple(mean), std=tuple(std), class_names=class_names, fingerprint=fingerprint(net))
    return clf.to(device)


# ------------------------------------------------------------------------------------- the default model
def first_frame_difference(x: torch.Tensor) -> torch.Tensor:
    """Subtract the clip's first frame from every frame (B x C x T x H x W): static content cancels and
    each frame shows where moving things are now (positive) beside where they started (negative), so
    motion direction becomes a spatial pattern that a small network learns in minutes on a CPU."""
    return x - x[:, :, :1]


INPUT_TRANSFORMS = {"first_frame_difference": first_frame_difference}


def build_from_config(cfg: dict) -> nn.Module:
    if cfg["arch"] != "x3d":
        raise ModelError(f"unsupported default-model arch {cfg['arch']!r}")
    return build_x3d(num_classes=len(cfg["class_names"]), **cfg["builder"])


def load_config(cfg_path: Path, layer: str | None = None, device: str | torch.device = "cpu") -> Classifier:
    """Load a model trained by `ace3d train`: a JSON config (builder arguments, clip, normalisation, class
    names, training record) beside its weights-only state dict."""
    if not cfg_path.is_file():
        raise ModelError(f"model config not found: {cfg_path}")
    cfg = json.loads(cfg_path.read_text())
    net = build_from_config(cfg)
    weights = cfg_path.with_name(cfg["weights"])
    _load_state(net, _read_state(weights), weights)
    stages = _pytorchvideo_stages(net)
    if cfg.get("input_transform"):
        stages = [("input", INPUT_TRANSFORMS[cfg["input_transform"]]), *stages]
    return _finish(cfg.get("name", "demo"), net, stages, layer or cfg["layer"],
                   tuple(cfg["clip_shape"]), tuple(cfg["mean"]), tuple(cfg["std"]), cfg["class_names"],
                   device, name=cfg.get("name", "demo"))
