"""A concept map that cannot collapse unseen: a concept instance covering more than `SHARE` of the clip is split
into its connected parts before the ranking, so each part is removed and ranked as its own instance of the
concept; a clip whose top-ranked instance still covers more than `SHARE` is flagged (`ClipResult.collapsed`).

Why: a concept that swallowed most of the clip localises nothing, yet its removal takes most of the clip out
and so can rank it first. When the swallowed voxels are in separate places (the actor and a corner mark), each
place now answers for itself; when they are one blob, splitting cannot help and the answer says so. The flag
looks at the top instance only: on the synthetic clips the plain background is one concept over most of the
clip, ranked low, and misleads nobody; what misleads is a clip-wide blob offered as the explanation. This is
the one definition of "collapsed": the served flag, the metric, the report's warning and the shortcut
benchmark read `SHARE` or the flag.

Parts are the 3D connected components of the union of a concept's supervoxels (T x H x W; touching at a corner
counts as connected), cut at the voxel: the fast SLIC does not enforce connectivity, and on the cue benchmark
keeping such a supervoxel whole glued apart components back together (docs/FAITHFULNESS.md). A part under
`MIN_PART` of the clip, and every part past the `MAX_PARTS` largest, is merged into the largest part rather than
dropped: the parts' union stays the concept's mask (so the all-concepts-removed baseline is unchanged), and
specks neither cost a removal forward each nor crowd the ranking. `MIN_PART` sits between the two kinds of part
measured on the cue benchmark's 40 clips (16 x 64 x 64): specks of 1 to 170 voxels (under 0.003 of the clip)
and parts that are a thing, 0.006 of the clip and more (the corner cue itself is 0.009)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ace3d.method.supervoxels import Supervoxels

SHARE = 0.5  # an instance over this share of the clip's voxels is split, and flags the clip if it stays over
MIN_PART = 0.004  # parts under this share of the clip join the largest part (why: module docstring)
MAX_PARTS = 8  # parts of one concept kept apart at most (each costs one removal forward)
_CONNECTED = ndimage.generate_binary_structure(3, 3)  # 26-neighbourhood: touching at a corner is touching


@dataclass
class Instances:
    """The concept instances of a clip after splitting: `concept[j]` indexes the concepts present (the input's
    order), `groups[j]` are instance j's supervoxels (those with voxels in it) and `masks[j]` its voxels (bool
    K x T x H x W)."""

    concept: list[int]
    groups: list[np.ndarray]
    masks: np.ndarray


def coverage(masks: np.ndarray) -> np.ndarray:
    """Each mask's share of the clip's voxels (K floats)."""
    n = float(np.prod(masks.shape[1:])) if masks.ndim > 1 else 1.0
    return masks.reshape(len(masks), -1).sum(1) / n if len(masks) else np.zeros(0)


def is_collapsed(top_coverage: float) -> bool:
    """Whether a clip whose top-ranked concept instance covers `top_coverage` of it has a collapsed map."""
    return top_coverage > SHARE


def split(sv: Supervoxels, groups: list[np.ndarray], masks: np.ndarray, share: float = SHARE) -> Instances:
    """Concepts (`groups` of supervoxel indices and their `masks`, one per concept present) as instances: a
    concept over `share` of the clip becomes its connected parts, largest first; the others stay as they are."""
    cover = coverage(masks)
    if not (cover > share).any():
        return Instances(list(range(len(groups))), list(groups), masks)
    concept: list[int] = []
    out_groups: list[np.ndarray] = []
    out_masks: list[np.ndarray] = []
    for k, (members, mask) in enumerate(zip(groups, masks, strict=True)):
        pieces = parts(mask) if cover[k] > share else mask[None]
        concept += [k] * len(pieces)
        out_groups += touching(sv, members, pieces) if len(pieces) > 1 else [members]
        out_masks.append(pieces)
    return Instances(concept, out_groups, np.concatenate(out_masks))


def parts(mask: np.ndarray) -> np.ndarray:
    """The connected parts of one concept's mask (bool T x H x W -> bool P x T x H x W), largest first; parts
    under MIN_PART of the clip and past the MAX_PARTS largest join the largest (module docstring)."""
    cc, n = ndimage.label(mask, structure=_CONNECTED)
    if n <= 1:
        return mask[None]
    size = np.bincount(cc.ravel(), minlength=n + 1)
    size[0] = 0
    order = np.argsort(-size[1:], kind="stable") + 1
    keep = [int(c) for i, c in enumerate(order) if i == 0 or (i < MAX_PARTS and size[c] >= MIN_PART * mask.size)]
    part = np.ones(n + 1, np.int64)  # component -> part number (1: the largest, where small ones go)
    part[0] = 0
    part[keep] = np.arange(1, len(keep) + 1)
    labels = part[cc]
    return np.stack([labels == j for j in range(1, len(keep) + 1)])


def touching(sv: Supervoxels, members: np.ndarray, pieces: np.ndarray) -> list[np.ndarray]:
    """Per part, the concept's supervoxels with voxels in it (a supervoxel that SLIC left in two pieces counts
    in both parts: the answer's `supervoxels` of a part is what the part touches)."""
    out: list[set[int]] = [set() for _ in pieces]
    for r, lab in enumerate(sv.labels):
        here = [(int(i), sv.items[int(i)][1]) for i in members if sv.items[int(i)][0] == r]
        if not here:
            continue
        lut = np.full(int(lab.max()) + 1, -1, np.int64)
        for i, label in here:
            lut[label] = i
        owner = lut[lab]
        for p, piece in enumerate(pieces):
            found = np.unique(owner[piece])
            out[p].update(int(i) for i in found if i >= 0)
    return [np.array(sorted(o), np.int64) for o in out]
