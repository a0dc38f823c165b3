"""DeepMind's Inception-I3D (RGB stream, Kinetics-400 head) in PyTorch, built so that its top-level children are
the named stages in order (a Classifier cuts it at any of them) and it traces for any input size.

Input: B x 3 x T x H x W RGB in [-1, 1] (224 x 224 and at least 9 frames for the reference setting); output:
B x num_classes logits. Weights: i3d.py converts DeepMind's checkpoint."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

# Output channels of the four branches of each Mixed block, as found in the
# checkpoint: (b0_1x1, b1_1x1, b1_3x3, b2_1x1, b2_3x3, b3_1x1).
MIXED_CHANNELS = OrderedDict([
    ("Mixed_3b", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", (384, 192, 384, 48, 128, 128)),
])

STAGE_NAMES = (
    "Conv3d_1a_7x7", "MaxPool3d_2a_3x3", "Conv3d_2b_1x1", "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3", "Mixed_3b", "Mixed_3c", "MaxPool3d_4a_3x3",
    "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f",
    "MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c", "Logits",
)

WEIGHTS_FILE = "i3d_kinetics400.pt"  # the converted state dict (i3d_weights.py)
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # flax momentum 0.99 expressed the PyTorch way


def _tf_same_pads(sizes, kernel, stride):
    """F.pad argument for TensorFlow SAME padding of the last len(kernel) dims.

    TF pads ``total = max((ceil(n/s) - 1) * s + k - n, 0)`` with the odd
    extra pixel after.  For k >= s this equals ``k - s + (-n mod s)``, which
    is branch-free, so a ``torch.jit.trace`` keeps it as arithmetic on the
    input size and the traced graph stays valid for other input shapes.
    ``sizes`` are in (T, H, W) order; the result is in F.pad's
    last-dim-first order.
    """
    flat = []
    for n, k, s in reversed(list(zip(sizes, kernel, stride, strict=True))):
        total = (k - s) + (-n) % s
        before = total // 2
        flat += [before, total - before]
    return flat


def _is_static_same(kernel, stride):
    # With stride 1 the SAME padding does not depend on the input size.
    return all(s == 1 for s in stride) and all(k % 2 == 1 for k in kernel)


def _same(kernel, stride) -> tuple[tuple[int, ...], tuple[int, ...], bool]:
    """Kernel, stride and whether SAME padding is static for them (checked: kernel >= stride everywhere)."""
    kernel, stride = tuple(kernel), tuple(stride)
    if not all(k >= st for k, st in zip(kernel, stride, strict=True)):
        raise ValueError("SAME padding here assumes kernel >= stride")
    return kernel, stride, _is_static_same(kernel, stride)


class BatchNormNoScale(nn.Module):
    """Batch norm with a learned offset only (scale fixed to 1), eps 1e-3."""

    def __init__(self, num_features: int, eps: float = BN_EPS,
                 momentum: float = BN_MOMENTUM):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, None,
                            self.bias, self.training, self.momentum, self.eps)

    def extra_repr(self):
        return f"{self.bias.numel()}, eps={self.eps}, scale=False"


class Unit3D(nn.Module):
    """Conv3d (no bias, TF SAME padding) -> BatchNormNoScale -> ReLU."""

    def __init__(self, in_ch: int, out_ch: int, kernel=(1, 1, 1),
                 stride=(1, 1, 1)):
        super().__init__()
        self.kernel, self.stride, self.static_pad = _same(kernel, stride)
        pad = tuple(k // 2 for k in self.kernel) if self.static_pad else 0
        self.conv = nn.Conv3d(in_ch, out_ch, self.kernel, self.stride,
                              padding=pad, bias=False)
        self.bn = BatchNormNoScale(out_ch)

    def forward(self, x):
        if not self.static_pad:
            x = F.pad(x, _tf_same_pads(x.shape[2:], self.kernel, self.stride))
        return F.relu(self.bn(self.conv(x)))


class MaxPool3dSame(nn.Module):
    """Max pool with TF SAME padding; padded cells are -inf (never win)."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride, self.static_pad = _same(kernel, stride)

    def forward(self, x):
        if self.static_pad:  # PyTorch's implicit padding is already -inf
            return F.max_pool3d(x, self.kernel, self.stride,
                                padding=tuple(k // 2 for k in self.kernel))
        x = F.pad(x, _tf_same_pads(x.shape[2:], self.kernel, self.stride),
                  value=float("-inf"))
        return F.max_pool3d(x, self.kernel, self.stride)

    def extra_repr(self):
        return f"kernel={self.kernel}, stride={self.stride}, padding=SAME"


class Branch(nn.Sequential):
    pass


class Mixed(nn.Module):
    """Inception block: four parallel branches concatenated on channels."""

    def __init__(self, in_ch: int, ch):
        super().__init__()
        b0, b1a, b1b, b2a, b2b, b3 = ch
        self.Branch_0 = Branch(OrderedDict([
            ("Conv3d_0a_1x1", Unit3D(in_ch, b0))]))
        self.Branch_1 = Branch(OrderedDict([
            ("Conv3d_0a_1x1", Unit3D(in_ch, b1a)),
            ("Conv3d_0b_3x3", Unit3D(b1a, b1b, (3, 3, 3)))]))
        self.Branch_2 = Branch(OrderedDict([
            ("Conv3d_0a_1x1", Unit3D(in_ch, b2a)),
            ("Conv3d_0b_3x3", Unit3D(b2a, b2b, (3, 3, 3)))]))
        self.Branch_3 = Branch(OrderedDict([
            ("MaxPool3d_0a_3x3", MaxPool3dSame((3, 3, 3), (1, 1, 1))),
            ("Conv3d_0b_1x1", Unit3D(in_ch, b3))]))
        self.out_channels = b0 + b1b + b2b + b3

    def forward(self, x):
        return torch.cat([self.Branch_0(x), self.Branch_1(x),
                          self.Branch_2(x), self.Branch_3(x)], dim=1)


class Logits(nn.Module):
    """(2,7,7) stride-1 VALID average pool -> dropout -> 1x1x1 conv with
    bias -> squeeze -> mean over time.  Returns B x num_classes logits.

    On the 7x7 maps produced by 224x224 input, a (2,7,7) VALID pool equals a
    spatial mean followed by a (2,1,1) stride-1 temporal pool, which is how it
    is computed here: no shape-dependent Python values, so a traced model
    works for any input size.  Maps smaller than 7x7 (e.g. 112x112 input ->
    4x4) are averaged whole, i.e. the pool window is clipped to the map;
    DeepMind's original would reject them.  Maps larger than 7x7 are also
    averaged whole (the original cannot squeeze those either).
    """

    def __init__(self, in_ch: int = 1024, num_classes: int = 400,
                 dropout: float = 0.0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.Conv3d_0c_1x1 = nn.Conv3d(in_ch, num_classes, 1, bias=True)

    def forward(self, x):
        x = x.mean(dim=(3, 4), keepdim=True)             # 7x7 spatial window
        x = F.avg_pool3d(x, (2, 1, 1), stride=1)         # 2-frame window
        x = self.Conv3d_0c_1x1(self.dropout(x))          # B x K x t x 1 x 1
        return x.squeeze(4).squeeze(3).mean(dim=2)


class InceptionI3d(nn.Module):
    """Inception-I3D whose direct children are the named stages, in order.

    ``model.stages`` lists the stage names; ``model.run(x, start, stop)``
    runs a contiguous slice of them (``stop`` inclusive by name).
    """

    def __init__(self, num_classes: int = 400, dropout: float = 0.0,
                 in_channels: int = 3):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(in_channels, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = MaxPool3dSame((1, 3, 3), (1, 2, 2))
        ch = 192
        for name, spec in MIXED_CHANNELS.items():
            if name == "Mixed_4b":
                self.MaxPool3d_4a_3x3 = MaxPool3dSame((3, 3, 3), (2, 2, 2))
            elif name == "Mixed_5b":
                self.MaxPool3d_5a_2x2 = MaxPool3dSame((2, 2, 2), (2, 2, 2))
            block = Mixed(ch, spec)
            setattr(self, name, block)
            ch = block.out_channels
        self.Logits = Logits(ch, num_classes, dropout)
        self.stages = STAGE_NAMES
        assert tuple(n for n, _ in self.named_children()) == STAGE_NAMES

    def forward(self, x):
        for module in self.children():
            x = module(x)
        return x

    def run(self, x, start: str | None = None, stop: str | None = None):
        """Run stages from ``start`` through ``stop`` (both inclusive)."""
        i = 0 if start is None else STAGE_NAMES.index(start)
        j = len(STAGE_NAMES) - 1 if stop is None else STAGE_NAMES.index(stop)
        for name in STAGE_NAMES[i:j + 1]:
            x = getattr(self, name)(x)
        return x


def build_i3d(num_classes: int = 400, dropout: float = 0.0) -> nn.Module:
    """Inception-I3D as in DeepMind's kinetics-i3d (RGB, Kinetics-400 head)."""
    return InceptionI3d(num_classes=num_classes, dropout=dropout)


def stage_channels(name: str) -> int:
    """Output channels of an I3D stage."""
    fixed = {"Conv3d_1a_7x7": 64, "MaxPool3d_2a_3x3": 64, "Conv3d_2b_1x1": 64, "Conv3d_2c_3x3": 192,
             "MaxPool3d_3a_3x3": 192}
    if name in fixed:
        return fixed[name]
    mixed = [n for n in MIXED_CHANNELS if STAGE_NAMES.index(n) <= STAGE_NAMES.index(name)][-1]
    b0, _, b1, _, b2, b3 = MIXED_CHANNELS[mixed]
    return b0 + b1 + b2 + b3


class PooledLinear(nn.Module):
    """A new head: the average over time and space, then one linear layer (a team's own classes)."""

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean(dim=(2, 3, 4)))


def build_i3d_transfer(cut: str, num_classes: int) -> nn.Module:
    """The I3D's stages up to and including `cut`, then a PooledLinear head named `head` (its state dict uses
    the Kinetics model's names for the stages it keeps, so those weights copy over as they are)."""
    if cut not in STAGE_NAMES[:-1]:
        raise ValueError(f"cannot cut the I3D after {cut!r}: choose one of {', '.join(STAGE_NAMES[:-1])}")
    full = build_i3d()
    keep = STAGE_NAMES[:STAGE_NAMES.index(cut) + 1]
    return nn.Sequential(OrderedDict([*((n, getattr(full, n)) for n in keep),
                                      ("head", PooledLinear(stage_channels(cut), num_classes))]))
