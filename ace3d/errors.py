"""Errors a caller can act on. Each carries a short machine-readable reason and the HTTP-style status a
server should answer with (400: the input is wrong, 413: the input is too big), so the CLI prints one line
and the serving adapter maps it to the right gRPC code without knowing the method."""

from __future__ import annotations


class Ace3dError(Exception):
    """Base of every error that is the caller's to fix; the message says what to do."""

    status = 400
    reason = "invalid_input"

    def __init__(self, message: str, *, reason: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason
        if status is not None:
            self.status = status


class VideoError(Ace3dError):
    """The video cannot be used: undecodable, empty, wrong array type or shape."""

    reason = "bad_video"


class TooLargeError(Ace3dError):
    """The input is over a configured limit (bytes, frames, pixels, decode time)."""

    status = 413
    reason = "too_large"


class OptionsError(Ace3dError):
    """The request's options are malformed or name something that does not exist."""

    reason = "bad_options"


class ModelError(Ace3dError):
    """A model spec or checkpoint cannot be loaded."""

    reason = "bad_model"


class BankError(Ace3dError):
    """A concept bank is unreadable or was built for a different model."""

    reason = "bad_bank"
