"""Concept discovery: k-means over the supervoxel features of one class, then ACE's popularity filters,
which keep a cluster only when it is big enough and recurs across many videos (a concept is something
the class's videos share, not one video's quirk)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans


@dataclass(frozen=True)
class ConceptParams:
    n_clusters: int = 25
    min_members: int = 20  # smaller clusters are dropped (ACE's min_imgs)
    max_members: int = 40  # members nearest the centre become the concept's examples (ACE's max_imgs)
    seed: int = 0


@dataclass
class Concept:
    """A discovered concept: its centre in feature space and its example members (indices into the
    feature array it was discovered from)."""

    centroid: np.ndarray
    members: np.ndarray  # indices of up to max_members examples, nearest first
    size: int  # all supervoxels of the cluster
    videos: int  # distinct videos they come from


def popular(n_videos_in_cluster: int, cluster_size: int, n_discovery_videos: int) -> bool:
    """ACE's three ways for a cluster to count as a concept: it appears in many distinct videos relative
    to its size, or in a good share of all videos, or is thinly spread but over most videos."""
    per_member = n_videos_in_cluster / max(1, cluster_size)
    per_video = n_videos_in_cluster / max(1, n_discovery_videos)
    return (per_member > 0.5
            or (per_member > 0.25 and per_video > 0.25)
            or (per_member > 0.1 and per_video > 0.5))


def discover(features: np.ndarray, video_ids: np.ndarray, params: ConceptParams = ConceptParams()) -> list[Concept]:
    """Cluster one class's supervoxel features (N x C; `video_ids[i]` is the video of row i)."""
    n = len(features)
    if n == 0:
        return []
    k = min(params.n_clusters, n)
    km = KMeans(n_clusters=k, n_init=4, random_state=params.seed).fit(features)
    dist = np.linalg.norm(features - km.cluster_centers_[km.labels_], axis=1)
    n_videos = len(np.unique(video_ids))
    found = []
    for label in range(k):
        idx = np.flatnonzero(km.labels_ == label)
        if len(idx) < params.min_members:
            continue
        vids = len(np.unique(video_ids[idx]))
        if not popular(vids, len(idx), n_videos):
            continue
        order = idx[np.argsort(dist[idx])][: params.max_members]
        found.append(Concept(centroid=km.cluster_centers_[label].astype(np.float32), members=order,
                             size=len(idx), videos=vids))
    # Most widespread first, so concept numbers mean something stable within a class.
    return sorted(found, key=lambda c: (-c.videos, -c.size))
