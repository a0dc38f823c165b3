"""The forward engine: how clips go through a Classifier, in one place. It owns the one normalisation path
(pixels -> the model's units), batching, the channels-last layout, the precision of perturbed forwards and,
on CPUs, the model traced and frozen. The method asks it for activations and logits; it never asks why.

Measured figures for each choice (bfloat16, freezing, channels-last, batch sizes) are in docs/PERFORMANCE.md."""

from __future__ import annotations

import logging
import threading
import time
import warnings

import numpy as np
import torch

from ace3d.models.classifier import Classifier

log = logging.getLogger(__name__)

# Precision of the perturbed forwards only (predictions and evaluations stay float32). "auto": bfloat16 where
# the hardware computes it natively (CUDA with bf16, CPUs with AVX-512 BF16 or AMX).
PRECISIONS = ("auto", "fp32", "bf16")


def bf16_native(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def normalise(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Float clips in pixel units (0..255), channels last (... x 3) -> the model's units, channels last.
    Every input the network sees goes through here: predictions, perturbed clips, gradients."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device)
    s = torch.tensor(std, dtype=x.dtype, device=x.device)
    return (x / 255.0 - m) / s


def network_input(clips, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """uint8 or float pixel clips (T x H x W x 3, K x T x H x W x 3, or a list of clips) -> the network's
    K x 3 x T x H x W, normalised with `mean` and `std`."""
    if isinstance(clips, list):
        clips = np.stack(clips)
    x = torch.from_numpy(np.ascontiguousarray(clips)) if isinstance(clips, np.ndarray) else clips
    x = normalise(x.float(), mean, std)
    x = x[None] if x.dim() == 4 else x
    return x.permute(0, 4, 1, 2, 3)


def model_input(clf: Classifier, clips: np.ndarray | torch.Tensor) -> torch.Tensor:
    """`network_input` with the classifier's normalisation, on its device."""
    return network_input(clips, clf.mean, clf.std).to(clf.device)


# Peak resident bytes per input voxel of a clip in a forward: measured on the frozen Kinetics I3D at 16 x 224 x
# 224 (the largest per voxel of the families here; docs/REAL_MODEL.md), so smaller nets get a safe margin.
BYTES_PER_VOXEL = 160


def batch_for_budget(clip_shape: tuple[int, int, int], budget_mb: float, most: int = 16) -> int:
    """Clips per forward so that one chunk of perturbed clips stays within `budget_mb` of memory."""
    per_clip = BYTES_PER_VOXEL * int(np.prod(clip_shape))
    return max(1, min(most, int(budget_mb * 2**20 // per_clip)))


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """Clips in channels-last order, which oneDNN's 3D convolutions prefer (docs/PERFORMANCE.md)."""
    return x.contiguous(memory_format=torch.channels_last_3d) if x.dim() == 5 else x


class ForwardEngine:
    """Batched forwards of one Classifier, the one way anything runs the network. `classify` is the prediction
    (float32: activation and logits); `logits(..., fast=True)` runs perturbed clips in the engine's precision;
    `trunk` and `forward` run one network input as it is (features, metrics, gradient methods). `forwards` and
    `clips` count the batches and clips that went through the network (a batch counts once), so a caller
    reports what its work cost by the difference of the counters."""

    def __init__(self, clf: Classifier, batch_size: int = 16, precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}: use one of {PRECISIONS}")
        self.clf, self.batch_size, self.precision = clf, batch_size, precision
        self.bf16 = precision == "bf16" or (precision == "auto" and bf16_native(clf.device))
        # traced, frozen forwards on a CPU, built on first use: "fast" (bfloat16 logits of perturbed clips) and
        # "exact" (float32 bottleneck activation and logits of the prediction); None where tracing failed
        self._frozen: dict[str, torch.jit.ScriptModule | None] = {}
        self._frozen_lock = threading.Lock()  # concurrent callers (bench throughput) trace once
        self.forwards = self.clips = 0

    def _count(self, xb: torch.Tensor) -> None:
        self.forwards += 1
        self.clips += int(xb.shape[0])

    def classify(self, clips: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Bottleneck activations (on the device) and float32 logits (on the CPU) of uint8 clips."""
        acts, logits = [], []
        with torch.inference_mode():
            for i in range(0, len(clips), self.batch_size):
                xb = channels_last(torch.cat([model_input(self.clf, c) for c in clips[i:i + self.batch_size]]))
                self._count(xb)
                net = self._frozen_net("exact", xb.shape[2:])
                if net is not None:
                    a, lg = net(xb)
                else:
                    a = self.clf.trunk(xb)
                    lg = self.clf.head(a)
                acts.append(a)
                logits.append(lg)
        return torch.cat(acts), torch.cat(logits).float().cpu()

    def logits(self, batch: torch.Tensor, fast: bool = False, normalised: bool = False) -> torch.Tensor:
        """Logits of K x T x H x W x 3 float clips (pixel units, or already in the model's units with
        `normalised`), in chunks; `fast`: in the engine's precision (float32 otherwise)."""
        dev = self.clf.device
        out = []
        net = self._frozen_net("fast", batch.shape[1:4]) if fast and self.bf16 else None
        with torch.inference_mode(), torch.autocast(dev.type, torch.bfloat16, enabled=fast and self.bf16):
            for i in range(0, len(batch), self.batch_size):
                xb = batch[i:i + self.batch_size].to(dev)
                xb = channels_last((xb if normalised else normalise(xb, self.clf.mean, self.clf.std))
                                   .permute(0, 4, 1, 2, 3))
                self._count(xb)
                out.append((net(xb) if net is not None else self.clf.logits(xb)).float().cpu())
        return torch.cat(out)

    def trunk(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck activation of a network input (K x 3 x T x H x W, `model_input`): one forward, float32,
        eager, in the caller's grad mode (features, TCAV, gradient methods)."""
        self._count(x)
        return self.clf.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The logits of a network input (K x 3 x T x H x W): one forward, float32, eager, in the caller's grad
        mode, so that gradient methods (Captum) differentiate through it."""
        return self.clf.head(self.trunk(x))

    def head(self, activation: torch.Tensor) -> torch.Tensor:
        """The layers after the bottleneck on an activation (not a forward of the network: not counted)."""
        return self.clf.head(activation)

    def head_logits(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits of K x C x t x h x w bottleneck activations (the layers after the bottleneck only)."""
        out = []
        dev = self.clf.device
        with torch.inference_mode(), torch.autocast(dev.type, torch.bfloat16, enabled=self.bf16):
            for i in range(0, len(batch), self.batch_size):
                out.append(self.clf.head(batch[i:i + self.batch_size].to(dev)).float().cpu())
        return torch.cat(out)

    def warmup(self, max_batch: int | None = None) -> float:
        """Run a blank clip through the prediction and the perturbed forwards at every batch size up to
        `max_batch` (default: the engine's batch size), so that first requests do not pay for tracing and
        for oneDNN building its kernels for each new shape. Returns the seconds it took."""
        t0 = time.perf_counter()
        t, h, w = self.clf.clip_shape
        self.classify([np.zeros((t, h, w, 3), np.uint8)])
        for k in range(1, (max_batch or self.batch_size) + 1):
            self.logits(torch.zeros(k, t, h, w, 3), fast=True)
        return time.perf_counter() - t0

    def _frozen_net(self, kind: str, clip: tuple[int, ...]) -> torch.jit.ScriptModule | None:
        """The model traced and frozen for a CPU (None elsewhere, or where the model does not trace: eager mode
        then runs). Freezing folds each batch norm into its convolution and, in bfloat16, lets oneDNN fuse the
        activations: "fast" is the perturbed forwards in bfloat16, "exact" the prediction's float32 forward."""
        if self.clf.device.type != "cpu":
            return None
        if kind not in self._frozen:
            with self._frozen_lock:  # traced once, even when callers arrive together
                if kind not in self._frozen:
                    self._frozen[kind] = self._trace(kind, tuple(clip))
        return self._frozen[kind]

    def _trace(self, kind: str, clip: tuple[int, ...]) -> torch.jit.ScriptModule | None:
        example = channels_last(torch.zeros(1, 3, *clip))
        fast = kind == "fast"
        module = (_Logits if fast else _TrunkHead)(self.clf).eval()
        try:
            with torch.no_grad(), torch.autocast("cpu", torch.bfloat16, enabled=fast), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frozen = torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))
                # oneDNN's inference passes: kept for bfloat16; in float32 they made one clip slower
                return torch.jit.optimize_for_inference(frozen) if fast else frozen
        except Exception as exc:  # noqa: BLE001 - any model that does not trace keeps eager mode
            where = "perturbed forwards stay in eager autocast" if fast else "predictions stay in eager mode"
            log.warning("%s: tracing %s failed: %s", where, self.clf.name, exc)
            return None


class _Logits(torch.nn.Module):
    """The classifier's input-to-logits path as a module, so that tracing sees its weights as parameters."""

    def __init__(self, clf: Classifier) -> None:
        super().__init__()
        self.net, self.clf = clf.net, clf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.clf.logits(x)


class _TrunkHead(_Logits):
    """The prediction's forward as a module: the bottleneck activation (for features) and the logits."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        a = self.clf.trunk(x)
        return a, self.clf.head(a)
