"""Looks for synthetic actions beyond `plain` (synth.py): `varied`, for training models that should not learn
their generator (more actor shapes, outlines, backgrounds, lighting, distractors that move in place), `random`,
for training too: every clip draws its own shapes (a random radial profile), its own wave or patch backgrounds
and its distractors' own in-place motion, so no one shape or texture is worth learning; `shifted`, a look
held out from training (other shapes, other backgrounds, distractors that circle), to measure what a model
learned about motion rather than about the generator; and `far`, a second held-out look made after the default
model was frozen (its recipe was chosen by its accuracy on `shifted`, so `far` is the look nothing was tuned on:
other shapes, plaid, grain and sector backgrounds, distractors that blink). The classes stay the actor's
direction. No training look draws a held-out look's shapes, backgrounds or distractor motions (test_looks.py
checks the names)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Look:
    shapes: tuple[str, ...]
    backgrounds: tuple[str, ...]
    outline_share: float  # share of actors (and distractors) drawn as outlines
    lighting: float  # strength of the static illumination gradient and the slow brightness drift
    distractor_motions: tuple[str, ...]  # each distractor draws one: "sway" (back and forth along a line),
    # "circle" (round a small circle), "wobble" (two unrelated sways in x and y), "pulse" (grows and shrinks),
    # "blink" (there for four frames, gone for four)


LOOKS = {
    "varied": Look(shapes=("disk", "square", "triangle", "diamond", "ellipse", "hexagon"),
                   backgrounds=("noise", "stripes", "checker", "gradient"), outline_share=0.4, lighting=0.35,
                   distractor_motions=("sway",)),
    "shifted": Look(shapes=("star", "cross", "crescent", "bar"), backgrounds=("rings", "blobs", "dots"),
                    outline_share=0.5, lighting=0.45, distractor_motions=("circle",)),
    "random": Look(shapes=("radial", "disk", "square", "triangle", "diamond", "ellipse", "hexagon"),
                   backgrounds=("waves", "patches", "noise", "stripes", "checker", "gradient"), outline_share=0.5,
                   lighting=0.5, distractor_motions=("sway", "wobble", "pulse")),
    "far": Look(shapes=("heart", "pentagon", "trapezoid", "saltire"), backgrounds=("plaid", "grain", "sectors"),
                outline_share=0.3, lighting=0.6, distractor_motions=("blink",)),
}
HELD_OUT = ("shifted", "far")
RADIAL_HARMONICS = (2, 8)  # the radial shape's profile: harmonics drawn from this range, inclusive


def shape_params(rng: np.random.Generator, kind: str) -> np.ndarray | None:
    """A shape's own parameters, drawn only for kinds that have them (so the other looks' videos keep their bytes):
    a `radial` shape's profile, rows of (harmonic, amplitude, phase)."""
    if kind != "radial":
        return None
    n = int(rng.integers(1, 4))
    k = rng.integers(RADIAL_HARMONICS[0], RADIAL_HARMONICS[1] + 1, n).astype(np.float32)
    amp = rng.dirichlet(np.ones(n)).astype(np.float32) * np.float32(rng.uniform(0.15, 0.45))
    return np.stack([k, amp, rng.uniform(0, 2 * np.pi, n).astype(np.float32)], 1)


def motion_params(rng: np.random.Generator, look: Look) -> tuple[str, np.ndarray | None]:
    """A distractor's motion and its own parameters; nothing drawn for a look with one motion and no parameters."""
    motions = look.distractor_motions
    motion = motions[0] if len(motions) == 1 else str(rng.choice(motions))
    if motion == "wobble":  # x and y each a sway of its own period and phase
        return motion, np.concatenate([rng.uniform(5, 13, 2), rng.uniform(0, 2 * np.pi, 2)]).astype(np.float32)
    return motion, None


def shape_mask(kind: str, cx: float, cy: float, r: float, size: int, outline: bool = False,
               params: np.ndarray | None = None) -> np.ndarray:
    """bool size x size mask of a shape of radius r centred at (cx, cy); `outline`: a band of its edge;
    `params`: the shape's own (shape_params)."""
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
        if kind == "heart":
            u, v = dx / rr, -dy / rr + 0.25
            return (u * u + v * v - 0.6) ** 3 - u * u * v ** 3 <= 0
        if kind == "pentagon":
            theta = np.arctan2(dy, dx) + np.pi / 2
            sector = 2 * np.pi / 5
            return np.hypot(dx, dy) * np.cos((theta % sector) - sector / 2) <= rr * np.cos(sector / 2)
        if kind == "trapezoid":
            return (np.abs(dy) <= rr * 0.6) & (np.abs(dx) <= rr * (0.75 - 0.35 * dy / (rr * 0.6)))
        if kind == "saltire":
            return ((np.abs(dx - dy) <= rr * 0.4) | (np.abs(dx + dy) <= rr * 0.4)) & (np.hypot(dx, dy) <= rr)
        if kind == "radial":  # 1 + a sum of cosines of the angle, scaled so its peak reaches rr
            rho, theta = np.hypot(dx, dy), np.arctan2(dy, dx)
            prof = 1 + sum(a * np.cos(k * theta + ph) for k, a, ph in params)
            return rho <= rr * prof / (1 + float(params[:, 1].sum()))
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
    elif kind == "waves":  # two or three plane waves of their own direction and period, summed
        t = np.zeros((size, size), np.float32)
        for _ in range(int(rng.integers(2, 4))):
            angle, period = rng.uniform(0, np.pi), rng.uniform(6, 40)
            t += np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + rng.uniform(0, 2 * np.pi))
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    elif kind == "patches":  # flat rectangles of their own colour over a flat ground
        img = np.broadcast_to(a, (size, size, 3)).copy()
        for _ in range(int(rng.integers(3, 9))):
            x0, y0 = rng.integers(0, size, 2)
            w, h = rng.integers(8, size // 2, 2)
            img[y0:y0 + h, x0:x0 + w] = rng.uniform(30, 220, 3)
        return img
    elif kind == "plaid":  # horizontal and vertical bands of two periods, crossed
        px, py = rng.uniform(10, 30, 2)
        t = 0.5 * ((np.sin(2 * np.pi * xx / px) > 0).astype(np.float32) + (np.sin(2 * np.pi * yy / py) > 0))
    elif kind == "grain":  # fine per-pixel grain over a flat colour
        t = rng.uniform(0, 1, (size, size)).astype(np.float32) * 0.5 + 0.25
    elif kind == "sectors":  # a pie of alternating sectors round a point
        cx, cy, n = rng.uniform(0, size), rng.uniform(0, size), int(rng.integers(3, 9))
        t = ((np.arctan2(yy - cy, xx - cx) + np.pi) * n / np.pi).astype(int) % 2
        t = t.astype(np.float32)
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


def distractor_offset(motion: str, phase: float, angle: float, amplitude: float, i: int,
                      params: np.ndarray | None = None) -> tuple[float, float]:
    """Where a moving distractor is at frame i, relative to its centre: it never travels anywhere (a
    `pulse` or a `blink` stays put and changes size: distractor_scale)."""
    w = 2 * np.pi * i / 8 + phase
    if motion == "sway":
        return np.cos(angle) * amplitude * np.sin(w), np.sin(angle) * amplitude * np.sin(w)
    if motion == "circle":
        return amplitude * np.cos(w), amplitude * np.sin(w)
    if motion == "wobble":
        px, py, fx, fy = params
        return amplitude * np.sin(2 * np.pi * i / px + fx), amplitude * np.sin(2 * np.pi * i / py + fy)
    if motion in ("pulse", "blink"):
        return 0.0, 0.0
    raise ValueError(f"unknown distractor motion {motion!r}")


def distractor_scale(motion: str, phase: float, i: int) -> float:
    """A distractor's radius at frame i, as a share of its own: a `pulse` changes size, a `blink` is 0 (not
    drawn) for four frames of eight."""
    if motion == "pulse":
        return 1.0 + 0.3 * np.sin(2 * np.pi * i / 8 + phase)
    if motion == "blink":
        return float((i + int(phase * 8 / (2 * np.pi))) // 4 % 2 == 0)
    return 1.0
