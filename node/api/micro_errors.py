"""The errors of everything built with the SDK, shaped like Micro's: `{id, code, detail, status}`.

`id` names who raised the error (a service, or `micro.node` for the local node), `code` is the
HTTP-style number Micro uses (400, 401, 403, 404, 408, 409, 500, 503, ...), `detail` is one line for
people, and `status` is the gRPC status name the error travels as. One table below ties each gRPC status
to its code and class, so a status maps to the same error wherever it is met: `from_grpc` reads a failed
gRPC call, and `MicroError.grpc_status` gives a server the status to answer with.

A server may put the error's JSON object (`MicroError.to_json`) in the status details; `from_grpc` reads
it back, so an error raised by a service reaches its caller with the service's own id and code.
"""

from __future__ import annotations

import json
from typing import Any

import grpc

__all__ = [
    "NODE_ID",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Internal",
    "MicroError",
    "NotFound",
    "Timeout",
    "Unauthorized",
    "Unavailable",
    "bad_request",
    "conflict",
    "forbidden",
    "from_details",
    "from_grpc",
    "internal",
    "not_found",
    "of_status",
    "timeout",
    "unauthorized",
    "unavailable",
]


NODE_ID = "micro.node"
"""The `id` of errors raised by the local node itself (as opposed to a service)."""


class MicroError(Exception):
    """An error with Micro's four fields. Subclasses fix `code` and the usual `status` of each kind."""

    code: int = 500
    status: str = "INTERNAL"

    def __init__(self, id: str, code: int, detail: str, status: str) -> None:
        super().__init__(detail)
        self.id = id
        self.code = code
        self.detail = detail
        self.status = status

    def __str__(self) -> str:
        return self.detail

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, code={self.code}, detail={self.detail!r}, status={self.status!r})"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "code": self.code, "detail": self.detail, "status": self.status}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @property
    def grpc_status(self) -> grpc.StatusCode:
        """The status a gRPC server answers with for this error."""
        return getattr(grpc.StatusCode, self.status, grpc.StatusCode.UNKNOWN)


class _Kind(MicroError):
    """A kind of error whose code is fixed; `status` defaults to the kind's usual gRPC status."""

    def __init__(self, id: str, detail: str, status: str | None = None) -> None:
        super().__init__(id, type(self).code, detail, status or type(self).status)


class BadRequest(_Kind):
    code, status = 400, "INVALID_ARGUMENT"


class Unauthorized(_Kind):
    code, status = 401, "UNAUTHENTICATED"


class Forbidden(_Kind):
    code, status = 403, "PERMISSION_DENIED"


class NotFound(_Kind):
    code, status = 404, "NOT_FOUND"


class Timeout(_Kind):
    code, status = 408, "DEADLINE_EXCEEDED"


class Conflict(_Kind):
    code, status = 409, "ALREADY_EXISTS"


class Internal(_Kind):
    code, status = 500, "INTERNAL"


class Unavailable(_Kind):
    code, status = 503, "UNAVAILABLE"


# gRPC status name -> the kind it becomes, or the bare code for statuses with no kind of their own.
_BY_STATUS: dict[str, type[_Kind] | int] = {
    "INVALID_ARGUMENT": BadRequest,
    "FAILED_PRECONDITION": BadRequest,
    "OUT_OF_RANGE": BadRequest,
    "UNAUTHENTICATED": Unauthorized,
    "PERMISSION_DENIED": Forbidden,
    "NOT_FOUND": NotFound,
    "DEADLINE_EXCEEDED": Timeout,
    "ALREADY_EXISTS": Conflict,
    "ABORTED": Conflict,
    "INTERNAL": Internal,
    "UNKNOWN": Internal,
    "DATA_LOSS": Internal,
    "UNAVAILABLE": Unavailable,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
}


def of_status(id: str, status: str, detail: str) -> MicroError:
    """The error for a gRPC status name: its kind's class, or a plain `MicroError` with the right code."""
    kind = _BY_STATUS.get(status, Internal)
    if isinstance(kind, int):
        return MicroError(id, kind, detail, status)
    return kind(id, detail, status)


# Micro's constructors by their usual names: `raise not_found("blog.posts", "no post 7")`.
bad_request = BadRequest
unauthorized = Unauthorized
forbidden = Forbidden
not_found = NotFound
timeout = Timeout
conflict = Conflict
internal = Internal
unavailable = Unavailable


def _carried(details: str) -> dict[str, Any] | None:
    """The Micro error object a server put in the status details, if it did."""
    if not details.startswith("{"):
        return None
    try:
        value = json.loads(details)
    except ValueError:
        return None
    if isinstance(value, dict) and isinstance(value.get("detail"), str) and isinstance(value.get("code"), int):
        return value
    return None


def from_grpc(error: grpc.RpcError, id: str) -> MicroError:
    """The `MicroError` for a failed gRPC call; `id` names the callee when the server did not."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    status = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
    details = (error.details() if hasattr(error, "details") else None) or ""
    return from_details(id, status, details)


def from_details(id: str, status: str, details: str) -> MicroError:
    """The `MicroError` for a failure of gRPC status `status` with these details (the server's Micro error
    when it put one there); `id` names the callee when the server did not."""
    carried = _carried(details)
    if carried is None:
        return of_status(id, status, details or f"the call failed ({status})")
    error_status = carried["status"] if isinstance(carried.get("status"), str) else status
    made = of_status(str(carried.get("id") or id), error_status, carried["detail"])
    # The server's own code wins: a service may use a code its status does not imply (e.g. 422).
    made.code = carried["code"]
    return made
