"""The errors of everything built with the SDK, shaped like Micro's: `{id, code, detail, status}`.

They are defined with the node's local API (`micro.node.api.micro_errors`), which the node, the gateway
and the CLI share; this module is their place in the SDK.
"""

from ..node.api.micro_errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Internal,
    MicroError,
    NotFound,
    Timeout,
    Unauthorized,
    Unavailable,
    bad_request,
    conflict,
    forbidden,
    from_details,
    from_grpc,
    internal,
    not_found,
    of_status,
    timeout,
    unauthorized,
    unavailable,
)

__all__ = [
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
