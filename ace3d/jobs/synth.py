"""Synthetic actions with ground truth: one actor moving in the class's direction over a textured, noisy
background with static distractors. Only the actor's motion separates the classes (position, size,
colour, shape and distractors are drawn independently of the class), so a faithful explanation must
point at the actor, whose pixels are saved beside each video.

A planted shortcut (`cue`): a small square that flickers in a fixed corner, put into most videos of one class
and few of the others, so that a model can learn the corner instead of the motion. Whether a video carries it
is drawn from a generator of its own, so the same seed gives the same videos with and without the cue (the
cue-swapped test sets: `cue="all"` and `cue="none"`). Its pixels are saved beside the actor's (`cue`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ace3d.datasets import MASK_SUFFIX, RANDOM_DIR
from ace3d.jobs import looks
from ace3d.method.video import write_mp4

CLASSES = ("move_left", "move_right", "move_up", "move_down")
DIRECTIONS = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}
SHAPES = ("disk", "square", "triangle", "diamond")


@dataclass(frozen=True)
class SynthConfig:
    frames: int = 16
    size: int = 112
    min_radius: int = 10
    max_radius: int = 18
    min_speed: float = 3.0  # pixels per frame
    max_speed: float = 5.0
    noise: float = 5.0  # per-frame Gaussian noise, in grey levels
    texture: float = 0.6  # contrast of the background texture (0: flat colour)
    distractors: tuple[int, int] = (1, 3)  # static distractor shapes, inclusive range
    look: str = "plain"  # or a look of looks.py: "varied" or "random" (for training), "shifted" or "far" (held out)
    cue: str = "none"  # a class name (the cue is planted mostly in its videos), "all" or "none"
    cue_share: tuple[float, float] = (0.9, 0.05)  # share of the cue class's videos with the cue, and of the others'


CUE_COLOUR = np.array([255.0, 0.0, 255.0], np.float32)


def cue_mask(size: int, frames: int) -> np.ndarray:
    """Where the planted cue sits: a square of a tenth of the frame near the top-left corner, in every frame
    (bool T x H x W). It is drawn only in odd frames (a flicker: a static mark would vanish from models that
    see frame differences)."""
    side, at = max(2, size // 10), max(1, size // 16)
    m = np.zeros((frames, size, size), bool)
    m[:, at:at + side, at:at + side] = True
    return m


def plant_cue(frames: np.ndarray) -> np.ndarray:
    """`frames` (uint8 T x H x W x 3) with the flickering cue drawn in; returns the cue's mask."""
    m = cue_mask(frames.shape[1], len(frames))
    on = m.copy()
    on[0::2] = False  # off in even frames, on in odd ones
    frames[on] = CUE_COLOUR.astype(np.uint8)
    return m


def has_cue(cfg: SynthConfig, cls: str, seed: int, k: int) -> bool:
    """Whether video `k` of class `cls` carries the cue, drawn apart from the video's own generator."""
    if cfg.cue in ("none", ""):
        return False
    if cfg.cue == "all":
        return True
    share = cfg.cue_share[0] if cls == cfg.cue else cfg.cue_share[1]
    return bool(np.random.default_rng([seed, k, 1]).random() < share)


def _shape_mask(kind: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    return looks.shape_mask(kind, cx, cy, r, size)


def _actor(rng: np.random.Generator, cfg: SynthConfig) -> tuple[float, np.ndarray, float, float, float]:
    """The actor's radius, colour, speed and start. The start is drawn from the same centred square for every
    class; the actor may leave the frame."""
    r = rng.uniform(cfg.min_radius, cfg.max_radius)
    colour = _colour(rng)
    speed = rng.uniform(cfg.min_speed, cfg.max_speed)
    margin = cfg.size * 0.2
    cx, cy = rng.uniform(margin, cfg.size - margin), rng.uniform(margin, cfg.size - margin)
    return r, colour, speed, cx, cy


def _step(rng: np.random.Generator, cx: float, cy: float, direction: tuple[int, int] | None,
          speed: float) -> tuple[float, float]:
    """The actor's next position: along the class's direction, or a random wander (direction None)."""
    if direction is None:
        angle = rng.uniform(0, 2 * np.pi)
        return cx + np.cos(angle) * speed * 0.7, cy + np.sin(angle) * speed * 0.7
    return cx + direction[0] * speed, cy + direction[1] * speed


def _background(rng: np.random.Generator, size: int, texture: float = 1.0) -> np.ndarray:
    """A static, low-frequency coloured texture: smoothed noise at a few scales."""
    img = np.zeros((size, size, 3), np.float32)
    for cells, amp in ((4, 50.0), (12, 25.0), (28, 12.0)):
        coarse = rng.normal(0, 1, (cells, cells, 3)).astype(np.float32)
        rep = -(-size // cells)
        up = np.kron(coarse, np.ones((rep, rep, 1), np.float32))[:size, :size]
        # box-blur the blocky upsampling so the texture has no hard edges
        k = max(1, rep // 2)
        for axis in (0, 1):
            up = sum(np.roll(up, s, axis=axis) for s in range(-k, k + 1)) / (2 * k + 1)
        img += texture * amp * up
    return img + rng.uniform(70, 170, 3).astype(np.float32)


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, 3).astype(np.float32)


def render(rng: np.random.Generator, direction: tuple[int, int] | None,
           cfg: SynthConfig = SynthConfig()) -> tuple[np.ndarray, np.ndarray]:
    """One video (uint8 T x H x W x 3) and its actor mask (bool T x H x W). direction None: the actor
    wanders with no consistent direction (a random video for CAVs' random sets)."""
    if cfg.look != "plain":
        return render_look(rng, direction, cfg)
    s, t = cfg.size, cfg.frames
    bg = _background(rng, s, cfg.texture)
    for _ in range(int(rng.integers(cfg.distractors[0], cfg.distractors[1] + 1))):
        m = _shape_mask(str(rng.choice(SHAPES)), rng.uniform(0, s), rng.uniform(0, s),
                        rng.uniform(cfg.min_radius, cfg.max_radius), s)
        bg[m] = _colour(rng)
    kind = str(rng.choice(SHAPES))
    r, colour, speed, cx, cy = _actor(rng, cfg)
    frames = np.empty((t, s, s, 3), np.uint8)
    masks = np.zeros((t, s, s), bool)
    for i in range(t):
        img = bg.copy()
        m = _shape_mask(kind, cx, cy, r, s)
        img[m] = colour
        masks[i] = m
        img += rng.normal(0, cfg.noise, img.shape).astype(np.float32)
        frames[i] = img.clip(0, 255).astype(np.uint8)
        cx, cy = _step(rng, cx, cy, direction, speed)
    return frames, masks


def render_look(rng: np.random.Generator, direction: tuple[int, int] | None,
                cfg: SynthConfig) -> tuple[np.ndarray, np.ndarray]:
    """`render` in a look of looks.py: its shapes (some as outlines), backgrounds, lighting and distractors
    that move in place; the actor moves exactly as in the plain look."""
    look = looks.LOOKS[cfg.look]
    s, t = cfg.size, cfg.frames
    bg = looks.background(rng, str(rng.choice(look.backgrounds)), s, _background)
    field, drift = looks.lighting(rng, look.lighting, s, t)
    distractors = []
    for _ in range(int(rng.integers(cfg.distractors[0], cfg.distractors[1] + 1))):
        dk = str(rng.choice(look.shapes))
        distractors.append((dk, rng.uniform(0, s), rng.uniform(0, s),
                            rng.uniform(cfg.min_radius, cfg.max_radius), bool(rng.random() < look.outline_share),
                            _colour(rng), rng.uniform(0, 2 * np.pi), rng.uniform(0, np.pi), rng.uniform(1.5, 4.0),
                            looks.shape_params(rng, dk), *looks.motion_params(rng, look)))
    kind, outline = str(rng.choice(look.shapes)), bool(rng.random() < look.outline_share)
    params = looks.shape_params(rng, kind)
    r, colour, speed, cx, cy = _actor(rng, cfg)
    frames = np.empty((t, s, s, 3), np.uint8)
    masks = np.zeros((t, s, s), bool)
    for i in range(t):
        img = bg.copy()
        for dk, dxc, dyc, dr, dout, dcol, phase, angle, amp, dparams, motion, mparams in distractors:
            ox, oy = looks.distractor_offset(motion, phase, angle, amp, i, mparams)
            dri = dr * looks.distractor_scale(motion, phase, i)
            if dri > 0:
                img[looks.shape_mask(dk, dxc + ox, dyc + oy, dri, s, dout, dparams)] = dcol
        m = looks.shape_mask(kind, cx, cy, r, s, outline, params)
        img[m] = colour
        masks[i] = m
        img = img * field * drift[i] + rng.normal(0, cfg.noise, img.shape).astype(np.float32)
        frames[i] = img.clip(0, 255).astype(np.uint8)
        cx, cy = _step(rng, cx, cy, direction, speed)
    return frames, masks


def generate(out: str | Path, per_class: int, seed: int = 0, n_random: int | None = None,
             cfg: SynthConfig = SynthConfig(), progress: bool = True) -> Path:
    """Write a data set in the layout of ace3d/datasets.py: DIR/<class>/<name>.mp4 + .mask.npz (the actor's and
    the cue's pixels) for each class, and DIR/random/<name>.mp4."""
    out = Path(out)
    if cfg.cue not in ("none", "", "all", *CLASSES):
        from ace3d.errors import OptionsError

        raise OptionsError(f"unknown cue {cfg.cue!r}: use a class ({', '.join(CLASSES)}), 'all' or 'none'")
    n_random = per_class if n_random is None else n_random
    jobs = [(c, i) for i in range(per_class) for c in CLASSES] + [(RANDOM_DIR, i) for i in range(n_random)]
    for k, (cls, i) in enumerate(tqdm(jobs, desc="synth", disable=not progress)):
        # One generator per video, derived from (seed, k): deterministic and order-independent.
        rng = np.random.default_rng([seed, k])
        frames, mask = render(rng, DIRECTIONS.get(cls), cfg)
        cue = plant_cue(frames) if has_cue(cfg, cls, seed, k) else np.zeros_like(mask)
        name = f"{cls}_{seed}_{i:04d}"
        write_mp4(out / cls / f"{name}.mp4", frames)
        if cls != RANDOM_DIR:
            np.savez_compressed(out / cls / f"{name}{MASK_SUFFIX}", mask=mask, cue=cue)
    return out


def default_video_bytes(seed: int = 0) -> bytes:
    """One synthetic move_right video as mp4 bytes (what a caller would send; the benchmarks' default clip)."""
    import tempfile

    frames, _ = render(np.random.default_rng(seed), DIRECTIONS["move_right"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "clip.mp4"
        write_mp4(path, frames)
        return path.read_bytes()
