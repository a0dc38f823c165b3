"""A `Classifier` is a 3D ConvNet cut at a bottleneck layer into a trunk (clip -> activation) and a head
(activation -> logits), so features, predictions and bottleneck-level removals all come from one forward
pass. Model families (registry.py) build them; the forward engine (engine.py) runs them fast."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ace3d.errors import ModelError, OptionsError

Stage = tuple[str, Callable[[torch.Tensor], torch.Tensor]]


@dataclass
class Classifier:
    """A video classifier split at `layer`: `trunk(x)` gives the bottleneck activation B x C x t x h x w,
    `head(a)` the logits. Clips are uint8 T x H x W x 3, normalised with `mean`/`std` by the engine."""

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
    frame_rate: float | None = None  # frames per second the model was trained at (None: spread over the video)
    score_clips: int = 1  # clips whose mean probabilities give a video's class scores unless asked otherwise

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

    def input_reach(self, masks: torch.Tensor) -> torch.Tensor:
        """bool K x T x H x W input voxels -> the network-input voxels they change. Only a parameter-free input
        step can widen it: with first_frame_difference every frame is compared with frame 0, so changing a
        pixel of frame 0 changes that pixel in every frame."""
        first = self.stages[0][1] if self.stages else None
        if first is first_frame_difference:
            return masks | masks[:, :1]
        return masks

    def class_index(self, name: str) -> int:
        """The output index of class `name`; the one place an unknown class is refused."""
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


def cut(name: str, net: nn.Module, stages: list[Stage], layer: str, clip_shape: tuple[int, ...],
        mean: tuple[float, ...], std: tuple[float, ...], class_names: list[str],
        frame_rate: float | None = None, score_clips: int = 1) -> Classifier:
    """A Classifier of `net` cut after `layer` (refused unless a stage other than the last has that name)."""
    names = [n for n, _ in stages]
    if layer not in names[:-1]:
        raise ModelError(f"layer {layer!r} is not a bottleneck of this model; choose one of: "
                         + ", ".join(names[:-1]))
    net.eval()
    return Classifier(name=name, net=net, stages=stages, layer=layer, clip_shape=tuple(clip_shape),
                      mean=tuple(mean), std=tuple(std), class_names=class_names, fingerprint=fingerprint(net),
                      frame_rate=frame_rate, score_clips=score_clips)


def first_frame_difference(x: torch.Tensor) -> torch.Tensor:
    """Subtract the clip's first frame from every frame (B x C x T x H x W): static content cancels and
    each frame shows where moving things are now (positive) beside where they started (negative), so
    motion direction becomes a spatial pattern that a small network learns in minutes on a CPU."""
    return x - x[:, :, :1]


INPUT_TRANSFORMS = {"first_frame_difference": first_frame_difference}
