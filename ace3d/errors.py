"""Errors a caller can act on. Each carries a short machine-readable reason and the HTTP-style status a
server should answer with (400: the input is wrong, 413: the input is too big), so the CLI prints one line
and the serving adapter maps it to the right gRPC code without knowing the method."""

from __future__ import annotations

# The base and the options error are the client distribution's (clients/python), so that its RemoteError is
# an Ace3dError here too.
from ace3d_client.errors import Ace3dError, OptionsError

__all__ = ["Ace3dError", "BankError", "ModelError", "OptionsError", "TooLargeError", "VideoError"]


class VideoError(Ace3dError):
    """The video cannot be used: undecodable, empty, wrong array type or shape."""

    reason = "bad_video"


class TooLargeError(Ace3dError):
    """The input is over a configured limit (bytes, frames, pixels, decode time)."""

    status = 413
    reason = "too_large"


class ModelError(Ace3dError):
    """A model spec or checkpoint cannot be loaded."""

    reason = "bad_model"


class BankError(Ace3dError):
    """A concept bank is unreadable or was built for a different model."""

    reason = "bad_bank"
