"""Errors raised by the mesh core.

Bad input from the network is never raised: the core counts it and drops it. These exceptions are for the
caller's own mistakes (an invalid key, a clock stamp from far in the future handed to the HLC) and for the
codec, whose `DecodeError` the wire layer turns into a drop counter. Every error carries `code`, a gRPC
status name, so the node maps it once to gRPC statuses and CLI exit messages.
"""

from __future__ import annotations

__all__ = ["ClockDriftExceeded", "DecodeError", "InvalidArgument", "MeshError"]


class MeshError(Exception):
    """Base of every mesh error; `code` is a gRPC status name."""

    code: str = "INTERNAL"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class DecodeError(MeshError):
    """Bytes that are not a well-formed, in-bounds message list."""

    code = "INVALID_ARGUMENT"


class InvalidArgument(MeshError):
    """A caller passed a value the core cannot accept (for example an over-long owned-state key)."""

    code = "INVALID_ARGUMENT"


class ClockDriftExceeded(MeshError):
    """A remote HLC stamp is further ahead of the local physical clock than the configured bound."""

    code = "FAILED_PRECONDITION"
