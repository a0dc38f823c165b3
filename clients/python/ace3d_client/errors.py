"""Errors a caller can act on, shared with the ace3d package (ace3d.errors re-exports these): each carries a
short machine-readable reason and the HTTP-style status a server answers with (400: the input is wrong, 413:
too big), so a command line prints one line and a server maps it to the right gRPC code."""

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


class OptionsError(Ace3dError):
    """The request's options are malformed or name something that does not exist."""

    reason = "bad_options"
