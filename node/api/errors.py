"""Errors of the node agent, and the one place error codes become gRPC statuses.

Every error in the project (`IdentityError`, `MeshError`, `NodeError`) carries `code`, a gRPC status
name as a string, and a one-line message. The local API turns any of them into that status with the
message as details; the client turns the status back into a `NodeError` with the same code, so the CLI
prints the server's own sentence. A routed call that failed at the instance (or on the way to it) is a
`Relayed` error instead: its status, details and `micro-error` trailer pass on to the caller unchanged.
"""

from __future__ import annotations

import grpc

__all__ = [
    "ERROR_KEY",
    "AlreadyRunning",
    "InvalidArgument",
    "NodeError",
    "NotFound",
    "NotRunning",
    "PermissionDenied",
    "Relayed",
    "Unauthenticated",
    "Unavailable",
    "code_of",
    "from_status",
    "refusal",
    "status_code",
]

ERROR_KEY = "micro-error"
"""The trailing metadata key that carries a failed call's Micro error as JSON (set by the SDK's handlers)."""

# The codes docs/architecture.md allows; anything else is reported as INTERNAL.
_STATUS = {
    "INVALID_ARGUMENT": grpc.StatusCode.INVALID_ARGUMENT,
    "NOT_FOUND": grpc.StatusCode.NOT_FOUND,
    "ALREADY_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    "PERMISSION_DENIED": grpc.StatusCode.PERMISSION_DENIED,
    "UNAUTHENTICATED": grpc.StatusCode.UNAUTHENTICATED,
    "FAILED_PRECONDITION": grpc.StatusCode.FAILED_PRECONDITION,
    "UNAVAILABLE": grpc.StatusCode.UNAVAILABLE,
    "DEADLINE_EXCEEDED": grpc.StatusCode.DEADLINE_EXCEEDED,
    "RESOURCE_EXHAUSTED": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "INTERNAL": grpc.StatusCode.INTERNAL,
}


class NodeError(Exception):
    """A mistake by the caller of the node, or a condition the node cannot proceed under."""

    code: str = "INTERNAL"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code if code in _STATUS else "INTERNAL"


class InvalidArgument(NodeError):
    code = "INVALID_ARGUMENT"


class NotFound(NodeError):
    code = "NOT_FOUND"


class PermissionDenied(NodeError):
    code = "PERMISSION_DENIED"


class Unavailable(NodeError):
    code = "UNAVAILABLE"


class Unauthenticated(NodeError):
    """A credential is missing or invalid (HTTP 401)."""

    code = "UNAUTHENTICATED"


class Relayed(NodeError):
    """A call that failed at a service instance, or at a node on the way to it: passed on as it came."""

    def __init__(self, rpc: grpc.aio.AioRpcError) -> None:
        super().__init__(rpc.details() or rpc.code().name, rpc.code().name)
        self.rpc = rpc
        self.trailing: tuple[tuple[str, str], ...] = tuple(
            (key, value) for key, value in (rpc.trailing_metadata() or ()) if key == ERROR_KEY
        )

    @property
    def unreachable(self) -> bool:
        """The instance or its node could not be reached (try another instance): UNAVAILABLE that no
        service raised (a service's own errors carry the `micro-error` trailer)."""
        return self.rpc.code() == grpc.StatusCode.UNAVAILABLE and not self.trailing

    def status(self) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
        """The status, details and trailer the call being served ends with."""
        return self.rpc.code(), self.rpc.details() or "", self.trailing


class NotRunning(NodeError):
    """No node answers on the data dir's socket."""

    code = "UNAVAILABLE"


class AlreadyRunning(NodeError):
    code = "ALREADY_EXISTS"


def code_of(error: BaseException) -> str:
    """The status name of any project error (they all carry `code`); INTERNAL for anything else."""
    code = getattr(error, "code", None)
    return code if isinstance(code, str) and code in _STATUS else "INTERNAL"


def refusal(error: BaseException) -> tuple[str, str]:
    """The status name and message that answer one refused item of a many-in-one call (PublishMany,
    StreamPublishMany): the item fails alone, so its error travels in the reply instead of as a status."""
    return code_of(error), str(getattr(error, "message", None) or error)


def status_code(code: str) -> grpc.StatusCode:
    """The gRPC status for a project error code."""
    return _STATUS.get(code, grpc.StatusCode.INTERNAL)


def from_status(status: grpc.StatusCode) -> str:
    """The project error code for a gRPC status (the reverse of `status_code`)."""
    for name, value in _STATUS.items():
        if value == status:
            return name
    return "INTERNAL"

