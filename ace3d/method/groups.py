"""Concepts of one clip alone, for a target class the bank has no concepts for (or no bank at all): the clip's
supervoxels grouped by their features, the way offline concepts are clusters of many videos' supervoxels.
Such a group is explained like a bank concept (its importance is the target-logit drop when it is removed),
but it carries no TCAV statistics: nothing tested it against random sets."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

MAX_GROUPS = 8  # each group costs one perturbed clip through the model


def clip_groups(features: np.ndarray, max_groups: int = MAX_GROUPS, seed: int = 0) -> np.ndarray:
    """Group index (0 .. k-1) of each of N supervoxel features (N x C), k = min(max_groups, N)."""
    n = len(features)
    if n <= max_groups:
        return np.arange(n)
    km = KMeans(n_clusters=max_groups, n_init=4, random_state=seed).fit(features.astype(np.float64))
    return km.labels_.astype(np.int64)


def group_name(group: int) -> str:
    return f"clip/group_{group + 1}"
