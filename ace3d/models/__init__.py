"""The model runtime: model families in a registry (`load(spec)`), the `Classifier` they build, and the
forward engine that runs it (engine.py: normalisation, batching, precision, tracing).

A new family is a module that calls `registry.register` and is imported below."""

from ace3d.models import demo, i3d, pytorchvideo_nets, torchscript_nets, torchvision_nets  # noqa: F401 - registers
from ace3d.models.classifier import INPUT_TRANSFORMS, Classifier, fingerprint, first_frame_difference
from ace3d.models.demo import ASSETS, load_config
from ace3d.models.pytorchvideo_nets import KINETICS_MEAN, KINETICS_STD, build_slow_r50, build_x3d
from ace3d.models.registry import FAMILIES, Family, load, register

__all__ = ["ASSETS", "FAMILIES", "INPUT_TRANSFORMS", "KINETICS_MEAN", "KINETICS_STD", "Classifier", "Family",
           "build_slow_r50", "build_x3d", "first_frame_difference", "fingerprint", "load", "load_config",
           "register"]
