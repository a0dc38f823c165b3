"""Looks for synthetic actions beyond `plain` (synth.py): `varied`, for training models that should not learn
their generator (more actor shapes, outlines, backgrounds, lighting, distractors that move in place), and
`shifted`, a look held out from training (other shapes, other backgrounds, distractors that circle), to measure
what a model learned about motion rather than about the generator. The classes stay the actor's direction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Look:
    shapes: tuple[str, ...]
    backgrounds: tuple[str, ...]
    outline_share: float  # share of actors (and distractors) drawn as outlines
    lighting: float  # strength of the static illumination gradient and the slow brightness drift
    distractor_motion: str  # "sway": back and forth along a line; "circle": round a small circle


LOOKS = {
    "varied": Look(shapes=("disk", "square", "triangle", "diamond", "ellipse", "hexagon"),
                   backgrounds=("noise", "stripes", "checker", "gradient"), outline_share=0.4, lighting=0.35,
                   distractor_motion="sway"),
    "shifted": Look(shapes=("star", "cross", "crescent", "bar"), backgrounds=("rings", "blobs", "dots"),
                    outline_share=0.5, lighting=0.45, distractor_motion="circle"),
}


def shape_mask(kind: str, cx: float, cy: float, r: float, size: int, outline: bool = False) -> np.ndarray:
    """bool size x size mask of a shape of radius r centred at (cx, cy); `outline`: a band of its edge."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - cx, yy - cy

    def solid(rr: float) -> np.ndarray:
        if kind == "disk":
            return dx * dx + dy * dy <= rr * rr
        if kind == "square":
            return (np.abs(dx) <= rr * 0.85) & (np.abs(dy) <= rr * 0.85)
        if kind == "diamond":
            return np.abs(dx) + np.abs(dy) <= rr
        if kind == "triangle":
            return (dy <= rr * 0.7) & (dy >= -rr) & (np.abs(dx) <= (dy + rr) * 0.6)
        if kind == "ellipse":
            return (dx / rr) ** 2 + (dy / (rr * 0.6)) ** 2 <= 1
        if kind == "hexagon":
            return np.maximum(np.abs(dx) * 0.866 + np.abs(dy) * 0.5, np.abs(dy)) <= rr * 0.9
        if kind == "star":
            rho, theta = np.hypot(dx, dy), np.arctan2(dy, dx)
            return rho <= rr * (0.6 + 0.4 * np.cos(5 * theta))
        if kind == "cross":
            return ((np.abs(dx) <= rr * 0.3) & (np.abs(dy) <= rr)) | ((np.abs(dy) <= rr * 0.3) & (np.abs(dx) <= rr))
        if kind == "crescent":
            return (dx * dx + dy * dy <= rr * rr) & ((dx - rr * 0.5) ** 2 + dy * dy > (rr * 0.8) ** 2)
        if kind == "bar":
            return (np.abs(dx) <= rr) & (np.abs(dy) <= rr * 0.35)
        raise ValueError(f"unknown shape {kind!r}")

    m = solid(r)
    return m & ~solid(max(1.0, r - 3.0)) if outline else m


def background(rng: np.random.Generator, kind: str, size: int, noise_bg) -> np.ndarray:
    """A static float32 size x size x 3 background of `kind`; "noise" is the plain look's texture."""
    if kind == "noise":
        return noise_bg(rng, size, rng.uniform(0.3, 1.0))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    a, b = rng.uniform(30, 220, 3).astype(np.float32), rng.uniform(30, 220, 3).astype(np.float32)
    if kind == "stripes":
        angle, period = rng.uniform(0, np.pi), rng.uniform(8, 28)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif kind == "checker":
        cell = int(rng.integers(6, 20))
        t = ((xx // cell + yy // cell) % 2).astype(np.float32)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        t = (xx * np.cos(angle) + yy * np.sin(angle)) / size
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    elif kind == "rings":
        cx, cy, period = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(10, 24)
        t = 0.5 + 0.5 * np.sin(2 * np.pi * np.hypot(xx - cx, yy - cy) / period)
    elif kind == "blobs":
        t = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(4, 9))):
            cx, cy, r = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(12, 40)
            t = np.maximum(t, np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r)) * rng.uniform(0.5, 1))
    elif kind == "dots":
        pitch, r = rng.uniform(10, 18), rng.uniform(2, 4)
        t = (np.hypot((xx % pitch) - pitch / 2, (yy % pitch) - pitch / 2) <= r).astype(np.float32)
    else:
        raise ValueError(f"unknown background {kind!r}")
    return a + (b - a) * t[..., None]


def lighting(rng: np.random.Generator, strength: float, size: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """A static illumination field (size x size x 1) and a slow per-frame brightness gain (frames)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle)
    field = 1.0 + strength * ramp * rng.uniform(0.5, 1.0)
    drift = 1.0 + strength * 0.1 * np.linspace(-1, 1, frames) * rng.choice([-1.0, 1.0])
    return field[..., None].astype(np.float32), drift.astype(np.float32)


def distractor_offset(motion: str, phase: float, angle: float, amplitude: float, i: int) -> tuple[float, float]:
    """Where a moving distractor is at frame i, relative to its centre: it never travels anywhere."""
    w = 2 * np.pi * i / 8 + phase
    if motion == "sway":
        return np.cos(angle) * amplitude * np.sin(w), np.sin(angle) * amplitude * np.sin(w)
    return amplitude * np.cos(w), amplitude * np.sin(w)
