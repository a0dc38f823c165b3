"""The stages of answering a request, by name: the explainer times them, the service reports each as the
`Stage` dimension of ace3d_stage_latency_seconds, and the docs list them. One enum, so that a renamed stage
renames its metric too instead of silently losing it. Imports nothing (the thin client's protocol uses it)."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    DECODE = "decode"  # bytes -> frames (the service, before the method)
    CLASSIFY = "classify"  # the prediction's forward of every clip
    SUPERVOXELS = "supervoxels"  # segmentation of each clip
    FEATURES = "features"  # supervoxel features (pooled, or one forward each in ace mode)
    IMPORTANCE = "importance"  # assignment, removal forwards, heatmap and self-check
    TOTAL = "total"  # the whole request


# What the explainer itself times (decode happens before it, in the service).
METHOD_STAGES = (Stage.CLASSIFY, Stage.SUPERVOXELS, Stage.FEATURES, Stage.IMPORTANCE, Stage.TOTAL)
