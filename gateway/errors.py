"""The gateway's errors: Micro's error body, and the one table from gRPC status to HTTP status.

Everything that fails on the way through the gateway is a `micro.node.api.micro_errors.MicroError` (the SDK's
`{id, code, detail, status}` error): the backend raises it for a failed call, with the service's own id
and detail when the service sent them, and the gateway raises it for what it refuses itself (id
`go.micro.gateway`). The HTTP status of the answer comes from the error's gRPC status through
`HTTP_STATUS`, the only place the gateway maps statuses; the body's `code` is that same HTTP status, so a
client reads one number whichever it looks at. The few refusals HTTP has and gRPC has not (413, 405,
414, 431) carry the HTTP reason phrase as their status and keep their own code. `error_response` is the
response for an error whoever answers (a handler, or the server for a request its HTTP parser refused);
an event stream that fails once started ends with the same body as an `error` event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import grpc
from aiohttp import web

from ..node.api.micro_errors import MicroError, of_status

__all__ = [
    "GATEWAY_ID",
    "HTTP_STATUS",
    "JSON",
    "error_body",
    "error_response",
    "gateway_error",
    "http_error",
    "http_status",
    "refusal_response",
]

GATEWAY_ID = "go.micro.gateway"
"""The `id` of errors the gateway raises itself (Micro's name for its API gateway)."""

JSON = {"Content-Type": "application/json"}

# gRPC status name -> HTTP status; the other gRPC statuses (UNKNOWN, INTERNAL, DATA_LOSS) are 500.
HTTP_STATUS: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "OUT_OF_RANGE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "FAILED_PRECONDITION": 412,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "UNIMPLEMENTED": 501,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

_GRPC_STATUSES = frozenset(code.name for code in grpc.StatusCode)


def http_status(error: MicroError) -> int:
    """The HTTP status the gateway answers an error with."""
    if error.status in _GRPC_STATUSES:
        return HTTP_STATUS.get(error.status, 500)
    return error.code


def gateway_error(status: str, detail: str) -> MicroError:
    """An error the gateway raises itself, by gRPC status: `gateway_error("NOT_FOUND", "no service foo")`."""
    return of_status(GATEWAY_ID, status, detail)


def http_error(code: int, detail: str) -> MicroError:
    """A refusal with no gRPC status (413, 405, 414, 431): its status is the HTTP reason phrase."""
    return MicroError(GATEWAY_ID, code, detail, HTTPStatus(code).phrase)


def error_body(error: MicroError) -> dict[str, Any]:
    """Micro's error body, its `code` being the HTTP status the gateway answers with."""
    return {"id": error.id, "code": http_status(error), "detail": error.detail, "status": error.status}


def error_response(error: MicroError, headers: Mapping[str, str] | None = None) -> web.Response:
    """The response that answers with `error` (and `headers`, such as a 405's `Allow`)."""
    return web.Response(
        status=http_status(error),
        body=json.dumps(error_body(error)).encode(),
        headers={**JSON, **headers} if headers else JSON,
    )


def refusal_response(exc: web.HTTPException) -> web.Response:
    """aiohttp's own refusal (a 4xx or 5xx it raised: no route for a request target, a body too large
    for its reader) as Micro's error body, keeping its headers worth keeping (`Allow`, say)."""
    kept = {key: value for key, value in exc.headers.items() if key not in ("Content-Type", "Content-Length")}
    return error_response(http_error(exc.status, exc.reason), kept)
