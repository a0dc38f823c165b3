"""Train the default model on a synthetic data set (`ace3d train`).

Optional augmentations keep the label honest (a horizontal flip swaps move_left/move_right, a vertical
flip swaps move_up/move_down, time reversal swaps each class with its opposite); they are off by default
because with them X3D stayed at the axis-only plateau (~50%) for the whole CPU budget. The result is a
weights-only state dict plus a JSON config that records the builder arguments, input transform, clip,
normalisation, class names, the seed and the training schedule.

`still` adds a no_motion class: a share of every batch is replaced by clips in which nothing moves (one frame
of a training clip held for the whole clip, with fresh per-frame sensor noise). Without it a 4-way model has to
name a direction for a clip without motion (the demo model said move_down for all of them), so taking the moving
actor out of a move_down video could never change its prediction; with it, "the actor's motion is why" is
something removal can show."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ace3d import models
from ace3d.datasets import list_videos
from ace3d.jobs.synth import CLASSES
from ace3d.method.video import make_clips, read_file
from ace3d.models.engine import network_input

NO_MOTION = "no_motion"
OPPOSITE = {"move_left": "move_right", "move_right": "move_left", "move_up": "move_down",
            "move_down": "move_up"}


@dataclass
class TrainConfig:
    clip_shape: tuple[int, int, int] = (16, 64, 64)
    builder: dict = field(default_factory=lambda: {"width_factor": 1.0, "depth_factor": 1.0,
                                                   "bottleneck_factor": 2.25, "head_dim_out": 256,
                                                   "stem_dim_in": 12, "dropout": 0.2})
    layer: str = "blocks.3"
    input_transform: str = "first_frame_difference"
    augment: bool = False  # flips and time reversal with label swaps (measured: slows learning here)
    epochs: int = 14
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 5e-4
    seed: int = 0
    mean: tuple[float, float, float] = models.KINETICS_MEAN
    std: tuple[float, float, float] = models.KINETICS_STD
    threads: int = 0  # 0: torch's default
    still: float = 0.0  # share of each batch replaced by motionless clips labelled no_motion (0: no such class)
    still_noise: float = 5.0  # per-frame noise of those clips, in grey levels (the synthetic videos' noise)
    init: str | None = None  # a model spec to start from (tensors of equal shape copied; a grown head keeps its rows)


Data = str | Path | list[str | Path]  # one data set, or several trained on together (say, two looks)


def data_sets(data: Data) -> list[Path]:
    return [Path(data)] if isinstance(data, (str, Path)) else [Path(d) for d in data]


def data_label(data: Data) -> str:
    """How a training record names its data: the folder, or the folders separated by spaces."""
    return " ".join(str(d) for d in data_sets(data))


def load_clips(data: Data, clip_shape: tuple[int, int, int], classes: list[str],
               desc: str = "decode", progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """All videos of a data set (or of several, one after the other) as one uint8 N x T x H x W x 3 array with
    integer labels."""
    xs, ys = [], []
    for folder in data_sets(data):
        videos = list_videos(folder, classes)
        for ci, c in enumerate(classes):
            for p in tqdm(videos.get(c, []), desc=f"{desc} {c}", leave=False, disable=not progress):
                xs.append(make_clips(read_file(p), clip_shape)[0].frames)
                ys.append(ci)
    return np.stack(xs), np.array(ys)


def _augment(x: torch.Tensor, y: torch.Tensor, classes: list[str], gen: torch.Generator) -> tuple:
    """x: B x 3 x T x H x W. Flips and time reversal with the matching label swaps."""
    idx = {c: i for i, c in enumerate(classes)}
    swap = {"h": {idx[a]: idx[b] for a, b in OPPOSITE.items() if a in ("move_left", "move_right")},
            "v": {idx[a]: idx[b] for a, b in OPPOSITE.items() if a in ("move_up", "move_down")},
            "t": {idx[a]: idx[b] for a, b in OPPOSITE.items()}}
    dims = {"h": 4, "v": 3, "t": 2}
    x, y = x.clone(), y.clone()
    for kind, dim in dims.items():
        flip = torch.rand(x.shape[0], generator=gen) < 0.5
        if flip.any():
            x[flip] = x[flip].flip(dim)
            y[flip] = torch.tensor([swap[kind].get(int(v), int(v)) for v in y[flip]])
    return x, y


def still_clips(x: np.ndarray, rng: np.random.Generator, noise: float) -> np.ndarray:
    """uint8 B x T x H x W x 3 -> clips in which nothing moves: one random frame of each held for T frames,
    with fresh per-frame noise of a random strength in [0, noise] per clip, so that "still" means the same
    whether the camera is noisy or the clip is perfectly clean (measured: trained with noisy stills only,
    the model called a perfectly static clip move_down)."""
    b, t = x.shape[:2]
    held = x[np.arange(b), rng.integers(0, t, b)].astype(np.float32)  # B H W 3
    sigma = rng.uniform(0, noise, (b, 1, 1, 1, 1)).astype(np.float32)
    out = held[:, None] + sigma * rng.normal(0, 1, (b, t, *x.shape[2:])).astype(np.float32)
    return out.clip(0, 255).astype(np.uint8)


def init_from(net: torch.nn.Module, spec: str) -> list[str]:
    """Copy the weights of model `spec` into `net` where shapes agree; a classifier layer that grew (more
    classes) keeps the old rows. Returns the names left at their fresh initialisation."""
    old = models.load(spec).net.state_dict()
    new = net.state_dict()
    fresh = []
    for name, value in new.items():
        src = old.get(name)
        if src is not None and src.shape == value.shape:
            new[name] = src
        elif src is not None and src.dim() >= 1 and src.shape[1:] == value.shape[1:] and src.shape[0] < value.shape[0]:
            new[name] = value.clone()
            new[name][: src.shape[0]] = src
            fresh.append(f"{name}[{src.shape[0]}:]")
        else:
            fresh.append(name)
    net.load_state_dict(new)
    return fresh


def accuracy(clf: models.Classifier, x: np.ndarray, y: np.ndarray, batch: int = 32) -> float:
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x), batch):
            xb = network_input(x[i:i + batch], clf.mean, clf.std)
            correct += int((clf.logits(xb).argmax(1).numpy() == y[i:i + batch]).sum())
    return correct / max(1, len(x))


def train(data: Data, out: str | Path, cfg: TrainConfig = TrainConfig(),
          test_data: Data | None = None, progress: bool = True) -> dict:
    """Train, save `out` (.pt weights) and `out` with .json (config), return the training record."""
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    classes = list(CLASSES) + ([NO_MOTION] if cfg.still > 0 else [])
    x, y = load_clips(data, cfg.clip_shape, list(CLASSES), "train", progress)
    net = models.build_x3d(num_classes=len(classes), clip_len=cfg.clip_shape[0], crop=cfg.clip_shape[1],
                           **cfg.builder)
    fresh = init_from(net, cfg.init) if cfg.init else []
    rng = np.random.default_rng(cfg.seed)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * (-(-len(x) // cfg.batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(cfg.seed)
    mean, std = cfg.mean, cfg.std
    transform = models.INPUT_TRANSFORMS[cfg.input_transform] if cfg.input_transform else (lambda v: v)
    history = []
    t0 = time.time()
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.randperm(len(x), generator=gen).numpy()
        losses, hits = [], 0
        bar = tqdm(range(0, len(x), cfg.batch_size), desc=f"epoch {epoch + 1}/{cfg.epochs}",
                   disable=not progress, leave=False)
        for i in bar:
            b = perm[i:i + cfg.batch_size]
            xs, ys = x[b], y[b]
            if cfg.still > 0:
                n = int(rng.binomial(len(b), cfg.still))
                xs, ys = xs.copy(), ys.copy()
                xs[:n], ys[:n] = still_clips(xs[:n], rng, cfg.still_noise), classes.index(NO_MOTION)
            xb = network_input(xs, mean, std)
            yb = torch.from_numpy(ys)
            if cfg.augment:
                xb, yb = _augment(xb, yb, classes, gen)
            logits = net(transform(xb))
            loss = F.cross_entropy(logits, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss))
            hits += int((logits.argmax(1) == yb).sum())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "train_acc": hits / len(x),
                        "seconds": round(time.time() - t0, 1)})
        if progress:
            print(json.dumps(history[-1]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    net.eval()
    torch.save(net.state_dict(), out.with_suffix(".pt"))
    record = {"name": out.stem, "arch": "x3d", "weights": out.with_suffix(".pt").name,
              "builder": {"clip_len": cfg.clip_shape[0], "crop": cfg.clip_shape[1], **cfg.builder},
              "clip_shape": list(cfg.clip_shape), "layer": cfg.layer,
              "input_transform": cfg.input_transform, "mean": list(mean), "std": list(std),
              "class_names": classes, "training": {**asdict(cfg), "data": data_label(data), "history": history,
                                                   "train_videos": int(len(x)), "fresh_parameters": fresh}}
    tests = data_sets(test_data) if test_data else []
    if tests:  # the first set's accuracy is `test_accuracy`; every set's is in `tests`
        out.with_suffix(".json").write_text(json.dumps(record, indent=1))
        clf = models.load_config(out.with_suffix(".json"))
        record["training"]["tests"] = {}
        for td in tests:
            xt, yt = load_clips(td, cfg.clip_shape, list(CLASSES), "test", progress)
            record["training"]["tests"][str(td)] = {"accuracy": accuracy(clf, xt, yt), "videos": int(len(xt))}
        first = record["training"]["tests"][str(tests[0])]
        record["training"].update(test_accuracy=first["accuracy"], test_data=str(tests[0]),
                                  test_videos=first["videos"])
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    return record
