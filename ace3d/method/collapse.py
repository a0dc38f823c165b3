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

Parts are made of whole supervoxels: the union of a concept's supervoxels is labelled in 3D (T x H x W, corners
touching count as connected), and supervoxels whose voxels lie in several components join those components
(a supervoxel is one region of the method, never cut). A part under `MIN_PART` of the clip, and every part past
the `MAX_PARTS` largest, is merged into the largest part rather than dropped: the parts' union stays the
concept's mask (so the all-concepts-removed baseline is unchanged), and slivers do not each cost a removal
forward and crowd the ranking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ace3d.method.supervoxels import Supervoxels

SHARE = 0.5  # an instance over this share of the clip's voxels is split, and flags the clip if it stays over
MIN_PART = 0.005  # parts under this share of the clip join the largest part (a fine supervoxel is ~0.02)
MAX_PARTS = 8  # parts of one concept kept apart at most (each costs one removal forward)
_CONNECTED = ndimage.generate_binary_structure(3, 3)  # 26-neighbourhood: touching at a corner is touching


@dataclass
class Instances:
    """The concept instances of a clip after splitting: `concept[j]` indexes the concepts present (the input's
    order), `groups[j]` are instance j's supervoxels and `masks[j]` its voxels (bool K x T x H x W)."""

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
        pieces = parts(sv, members, mask) if cover[k] > share else [members]
        part_masks = sv.concept_masks(pieces) if len(pieces) > 1 else mask[None]
        concept += [k] * len(pieces)
        out_groups += pieces
        out_masks.append(part_masks)
    return Instances(concept, out_groups, np.concatenate(out_masks))


def parts(sv: Supervoxels, members: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """The connected parts of one concept's mask as groups of its supervoxels (see the module docstring),
    largest first."""
    cc, n = ndimage.label(mask, structure=_CONNECTED)
    if n <= 1 or len(members) <= 1:
        return [members]
    parent = np.arange(n + 1)

    def root(c: int) -> int:
        while parent[c] != c:
            parent[c] = parent[parent[c]]
            c = parent[c]
        return int(c)

    first = np.zeros(len(members), np.int64)  # a component of each member (0: none seen)
    for r, lab in enumerate(sv.labels):
        at = [(j, label) for j, i in enumerate(members) for rr, label in [sv.items[int(i)]] if rr == r]
        if not at:
            continue
        lut = np.full(int(lab.max()) + 1, -1, np.int64)
        for j, label in at:
            lut[label] = j
        owner = lut[lab]  # member per voxel at this resolution, -1 elsewhere
        inside = owner >= 0
        pairs = np.unique(owner[inside] * (n + 1) + cc[inside])
        for j, c in zip(*np.divmod(pairs, n + 1), strict=True):
            if first[j] == 0:
                first[j] = c
            else:
                a, b = root(int(first[j])), root(int(c))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    roots = np.array([root(c) for c in range(n + 1)])  # each component's part (0: outside the mask)
    part_size = np.bincount(roots.ravel(), weights=np.bincount(cc.ravel(), minlength=n + 1), minlength=n + 1)
    part_size[0] = 0
    part_of = roots[first]  # each member's part (0: no voxel, joins the largest)
    order = [int(p) for p in np.argsort(-part_size, kind="stable") if part_size[p] > 0]
    keep = [p for i, p in enumerate(order) if i == 0 or (i < MAX_PARTS and part_size[p] >= MIN_PART * mask.size)]
    target = np.where(np.isin(part_of, keep), part_of, keep[0])
    return [members[target == p] for p in keep]
