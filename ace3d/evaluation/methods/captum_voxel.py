"""Captum's voxel-level methods: IntegratedGradients (gradients along a path from a baseline clip) and
Occlusion (a sliding 3D window replaced by the baseline). Both use the clip's per-pixel temporal mean as the
baseline, as the other methods here take moving content out; their voxel attributions (summed over colour
channels) are ranked over the same supervoxels as the region methods, by their mean inside each."""

from __future__ import annotations

import torch

from ace3d.evaluation.methods.over_segments import OverSegments


class IntegratedGradientsMethod(OverSegments):
    name = "integrated_gradients"
    n_steps = 16  # points on the path; each is one clip through the network and back
    internal_batch_size = 8

    def voxel_attribution(self, x, baseline, target, labels):
        from captum.attr import IntegratedGradients

        attr = IntegratedGradients(self.engine.forward).attribute(
            x, baselines=baseline, target=target, n_steps=self.n_steps, internal_batch_size=self.internal_batch_size)
        return attr[0].sum(0)  # summed over colour channels


class OcclusionMethod(OverSegments):
    name = "occlusion"
    overlap = 2  # windows per stride along each axis: 2 gives 7^3 positions, 1 (side by side) 4^3


    def voxel_attribution(self, x, baseline, target, labels):
        from captum.attr import Occlusion

        t, h, w = x.shape[2:]
        window = (3, max(1, t // 4), max(1, h // 4), max(1, w // 4))  # a quarter of the clip in each of T, H, W
        strides = (3, *(max(1, n // (4 * self.overlap)) for n in (t, h, w)))  # a window / `overlap`
        with torch.no_grad():
            attr = Occlusion(self.engine.forward).attribute(x, sliding_window_shapes=window, strides=strides,
                                                            baselines=baseline, target=target,
                                                            perturbations_per_eval=16)
        return attr[0].sum(0)  # summed over colour channels
