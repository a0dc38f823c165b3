"""`ace3d train --init i3d_kinetics400`: the Kinetics-400 I3D adapted to a team's own classes (the data set's
class folders).

The recipe, chosen by measurement (docs/REAL_MODEL.md, and the probe in the design notes): the I3D is cut after
an early stage (Mixed_3c), kept frozen, and fed the first-frame difference of each clip at 112 x 112; a new head
(the average over time and space, then one linear layer) is fitted as an L2-regularised logistic regression on
the cached features. Fine-tuning more layers cost far more on a CPU and was not needed for the targets. A
share of motionless clips teaches a no_motion class, as for the default model (train.py)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from ace3d import models
from ace3d.datasets import list_videos
from ace3d.jobs.synth import CLASSES
from ace3d.jobs.train import NO_MOTION, Data, accuracy, data_label, data_sets, load_clips, still_clips
from ace3d.models.classifier import first_frame_difference
from ace3d.models.engine import network_input
from ace3d.models.i3d_net import build_i3d_transfer

INIT = "i3d_kinetics400"


@dataclass
class TransferConfig:
    clip_shape: tuple[int, int, int] = (16, 112, 112)
    cut: str = "Mixed_3c"  # the last stage kept; also the concept layer
    layer: str = "Mixed_3c"
    c: float = 0.1  # inverse L2 strength of the logistic regression (on standardised features)
    still: float = 0.2  # share of motionless clips added, labelled no_motion (0: no such class)
    still_noise: float = 5.0
    seed: int = 0
    batch_size: int = 8


def data_classes(data: Data) -> list[str]:
    """The classes to adapt to: the synthetic ones in their usual order for a synthetic set, otherwise the data
    set's class folders, sorted (real clips, say, from `python -m ace3d.jobs.realcue`); with several sets, the
    first one's (each of the others must have them)."""
    found = list(list_videos(data_sets(data)[0]))
    return list(CLASSES) if set(found) <= set(CLASSES) else found


def features(trunk: torch.nn.Module, x: np.ndarray, cfg: TransferConfig, progress: bool, desc: str) -> np.ndarray:
    """Pooled features N x C of uint8 clips through the frozen trunk (first-frame difference first)."""
    out = []
    mean = std = (0.5, 0.5, 0.5)
    with torch.inference_mode():
        for i in tqdm(range(0, len(x), cfg.batch_size), desc=desc, disable=not progress, leave=False):
            xb = network_input(x[i:i + cfg.batch_size], mean, std)
            out.append(trunk(first_frame_difference(xb)).mean(dim=(2, 3, 4)).numpy())
    return np.concatenate(out)


def train_transfer(data: Data, out: str | Path, cfg: TransferConfig = TransferConfig(),
                   test_data: Data | None = None, progress: bool = True) -> dict:
    """Fit the head, save `out`.pt and `out`.json (loadable as demo:OUT.json), return the training record."""
    t0 = time.time()
    rng = np.random.default_rng(cfg.seed)
    base = data_classes(data)
    classes = base + ([NO_MOTION] if cfg.still > 0 else [])
    x, y = load_clips(data, cfg.clip_shape, base, "train", progress)
    if cfg.still > 0:
        n = int(round(len(x) * cfg.still / (1 - cfg.still)))
        held = still_clips(x[rng.choice(len(x), n)], rng, cfg.still_noise)
        x, y = np.concatenate([x, held]), np.concatenate([y, np.full(n, classes.index(NO_MOTION))])
    net = build_i3d_transfer(cfg.cut, len(classes))
    kinetics = models.load(INIT).net.state_dict()
    state = net.state_dict()
    state.update({k: v for k, v in kinetics.items() if k in state and not k.startswith("head.")})
    net.load_state_dict(state)
    net.eval()
    trunk = torch.nn.Sequential(*list(net.children())[:-1])
    f = features(trunk, x, cfg, progress, "features")
    mu, sd = f.mean(0), f.std(0) + 1e-6
    head = LogisticRegression(C=cfg.c, max_iter=5000, random_state=cfg.seed).fit((f - mu) / sd, y)
    with torch.no_grad():
        net.head.fc.weight.copy_(torch.from_numpy(head.coef_ / sd).float())
        net.head.fc.bias.copy_(torch.from_numpy(head.intercept_ - (head.coef_ / sd) @ mu).float())
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), out.with_suffix(".pt"))
    record = {"name": out.stem, "arch": "i3d_transfer", "weights": out.with_suffix(".pt").name,
              "builder": {"cut": cfg.cut}, "clip_shape": list(cfg.clip_shape), "layer": cfg.layer,
              "input_transform": "first_frame_difference", "mean": [0.5] * 3, "std": [0.5] * 3,
              "class_names": classes,
              "training": {**asdict(cfg), "init": INIT, "data": data_label(data), "train_videos": int(len(x)),
                           "train_accuracy": float(head.score((f - mu) / sd, y)), "seconds": 0.0}}
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    clf = models.load_config(out.with_suffix(".json"))
    tests = {}
    for td in data_sets(test_data) if test_data else []:
        xt, yt = load_clips(td, cfg.clip_shape, base, "test", progress)
        tests[str(td)] = {"accuracy": accuracy(clf, xt, yt), "videos": int(len(xt))}
    record["training"]["tests"] = tests
    record["training"]["seconds"] = round(time.time() - t0, 1)
    out.with_suffix(".json").write_text(json.dumps(record, indent=1))
    return record
