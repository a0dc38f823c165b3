"""Grad-CAM for 3D convolutions (the `grad-cam` package, 1.5.x): the concept layer's activation weighted by the
mean gradient of the target logit per channel, kept where positive and resized to the clip.

What its 3D path does, read from grad-cam 1.5.7: for a 5-D activation (B x C x t x h x w) the weights are the
gradients' mean over (t, h, w) and the map is resized with scipy's `zoom` to (T, H, W) of the input; its helper
names the sizes (depth, width, height) but hands them to `zoom` reversed, so the axes do line up with
(T, H, W). The zoom is cubic, so the map can dip below 0 between cells; the layers' mean is clipped at 0 and
rescaled to [0, 1]. Here the target layer is the classifier's cut (the layer the concepts live in), and only the
head is differentiated: the activation is detached and made to require a gradient, so the trunk's weights
need none."""

from __future__ import annotations

import torch
from torch import nn

from ace3d.evaluation.methods.over_segments import OverSegments
from ace3d.models.engine import ForwardEngine


class _CutModel(nn.Module):
    """The classifier as one module with an identity at the cut, the layer Grad-CAM hooks."""

    def __init__(self, engine: ForwardEngine) -> None:
        super().__init__()
        self.engine, self.cut = engine, nn.Identity()
        self.weights = engine.clf.net  # registered so that grad-cam finds the model's device from its parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            a = self.engine.trunk(x)
        return self.engine.head(self.cut(a.detach().float().requires_grad_(True)))


class GradCamMethod(OverSegments):
    name = "grad_cam"

    def voxel_attribution(self, x, baseline, target, labels):
        from pytorch_grad_cam import GradCAM  # imported here: only evaluation needs grad-cam
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        model = _CutModel(self.engine)
        with torch.enable_grad(), GradCAM(model=model, target_layers=[model.cut]) as cam:
            heat = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])
        return torch.from_numpy(heat[0])  # T x H x W in [0, 1]
