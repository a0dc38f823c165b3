"""Example supervoxels of a bank's concepts as small animations, found again in videos of the classes.

A bank stores one still per example (the middle frame: `thumbnails`), not the supervoxels themselves, and
not which videos they came from. Given videos of the classes (`--data`), the same recipe as the explainer
finds them again: segment each clip with the bank's SLIC parameters, take features in the bank's feature
mode, let each supervoxel join the nearest concept of its class, and keep the supervoxels nearest each
concept's centre, from distinct videos first (ACE's examples are the members nearest the centre); a concept
no supervoxel joins in these videos shows the supervoxels nearest its centre."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ace3d.method import features as feats
from ace3d.method.bank import ConceptBank
from ace3d.method.stills import cutout
from ace3d.method.supervoxels import segment
from ace3d.method.video import limits_for, make_clips, read_file
from ace3d.models.classifier import Classifier
from ace3d.models.engine import ForwardEngine

SIZE = 40  # side of an example animation, pixels (the page scales it up)


def animate(frames: np.ndarray, mask: np.ndarray, size: int = SIZE) -> np.ndarray:
    """A supervoxel through time: the frames where it is present, cropped to its box over all of them, the
    rest greyed (as the bank's stills), resized to size x size. uint8 t x size x size x 3."""
    ts = np.flatnonzero(mask.any(axis=(1, 2)))
    return cutout(frames[ts], mask[ts], size)


def find_examples(clf: Classifier, bank: ConceptBank, data: str | Path, per_concept: int = 3,
                  videos_per_class: int = 8) -> dict[int, list[np.ndarray]]:
    """Bank row -> up to `per_concept` animations (see `animate`) from the first `videos_per_class` videos of
    each class under `data` (DIR/<class>/*.mp4, as `ace3d synth` writes). The bank must match `clf`."""
    from ace3d.datasets import list_videos

    bank.check_model(clf)
    engine = ForwardEngine(clf)
    built = [c for c in bank.class_names if len(bank.concepts_of(bank.class_names.index(c)))]
    found = list_videos(data)
    limits = limits_for(clf.clip_shape)
    out: dict[int, list[np.ndarray]] = {}
    for cname in built:
        target = bank.class_names.index(cname)
        rows = bank.concepts_of(target)
        seen = []  # (frames, supervoxels, distances N x R, nearest concept N) of each video
        for path in found.get(cname, [])[:videos_per_class]:
            clip = make_clips(read_file(path, limits), clf.clip_shape, frame_rate=clf.frame_rate)[0]
            sv = segment(clip.frames, bank.slic, clf.device)
            if len(sv):
                f = feats.extract(engine, clip.frames, sv, bank.feature_mode)
                seen.append((clip.frames, sv, bank.distances(f, target)[0], bank.assign(f, target)[0]))
        for j, row in enumerate(rows):
            # supervoxels that join this concept (nearest of the class's) first, then any, nearest its centre
            cands = sorted(((near[i] != j, float(d[i, j]), v, i) for v, (_, _, d, near) in enumerate(seen)
                            for i in range(len(d))), key=lambda c: (c[0], c[1]))
            first, videos = [], set()  # distinct videos first
            for c in cands:
                if c[2] not in videos:
                    first.append(c)
                    videos.add(c[2])
            picked = (first + [c for c in cands if c not in first])[:per_concept]
            out[int(row)] = [animate(seen[v][0], seen[v][1].mask(i)) for _, _, v, i in picked]
    return out
