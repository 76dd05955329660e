"""How the node's gRPC servicers end a call: every failure becomes a status with a one-line message.

Shared by the local API (`local_api.py`) and the peer API (`peer_api.py`). A project error keeps its code
(`api.errors`); anything else is INTERNAL, logged once with its repr; a routed call's relayed failure
passes on with its own status, details and trailer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc

from .api.calllink import Handler, batched, serve_link
from .api.errors import Relayed, code_of, status_code
from .api.proto import node_pb2
from .log import Logger

__all__ = ["guard", "guard_stream", "now", "one_line", "serve_link_of", "status_of"]

_T = TypeVar("_T")


def one_line(text: str) -> str:
    """`text` on one line (a status detail or log field never spans lines)."""
    return " ".join(text.split()) or "unknown error"


def status_of(log: Logger, exc: Exception) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """The status a call that failed with `exc` ends with: its code and one-line message, never a
    traceback (a relayed failure of a routed call keeps its own status, details and trailer)."""
    if isinstance(exc, Relayed):
        return exc.status()
    code = code_of(exc)
    message = one_line(str(getattr(exc, "message", None) or exc))
    if code == "INTERNAL":
        log.error("api.internal_error", error=repr(exc))
        message = f"internal error: {message}"
    return status_code(code), message, ()


async def _abort(log: Logger, context: grpc.aio.ServicerContext, exc: Exception) -> None:
    """End a call with the status of its failure."""
    code, details, trailing = status_of(log, exc)
    await context.abort(code, details, trailing_metadata=trailing)


async def serve_link_of(log: Logger, batches: AsyncIterator[node_pb2.LinkBatch], context: grpc.aio.ServicerContext,
                      handle: Handler) -> None:
    """One call link of the local API or the peer API (`calllink.py`): every failure is a call's status."""
    await serve_link(batches, batched(context.write), handle, lambda exc: status_of(log, exc))


async def guard(log: Logger, context: grpc.aio.ServicerContext, call: Callable[[], Awaitable[_T]]) -> _T:
    """Run one API call; any error becomes its status."""
    try:
        return await call()
    except Exception as exc:  # noqa: BLE001 - every failure must reach the caller as a status
        failure = exc
    await _abort(log, context, failure)
    # abort() always raises; this line only tells the type checker so.
    raise AssertionError("unreachable")


async def guard_stream(log: Logger, context: grpc.aio.ServicerContext,
                        stream: Callable[[], AsyncIterator[_T]]) -> AsyncIterator[_T]:
    """Relay a server stream; an error ends it with its status."""
    try:
        async for item in stream():
            yield item
        return
    except Exception as exc:  # noqa: BLE001 - every failure must reach the caller as a status
        failure = exc
    await _abort(log, context, failure)


async def now(value: _T) -> _T:
    """An awaitable of a value at hand, for `guard` around a synchronous call."""
    return value
