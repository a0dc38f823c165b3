"""ace3d: spatio-temporal concept explanations (3D ACE) of video ConvNets."""

__version__ = "0.1.0"
