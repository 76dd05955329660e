"""The call link an instance serves its node: unary calls multiplexed on one stream.

A node calls an instance that registered with `call_link` over one `Instance.CallLink` stream (see
`node/calllink.py`) instead of a unary gRPC call each: grpc.aio spends about twice the CPU on a unary
call as on a message of an open stream, and under load one message carries several calls. A frame's
payload is an `InstanceCall` (the endpoint's method path, the body, the metadata with the calling node's
id). Its handler runs as on a unary call, with a `Context` whose grpc side is a `LinkCall`: the call's
metadata and time remaining, and `abort`, `set_code`, `set_details` and `set_trailing_metadata` as on
grpc's ServicerContext. A failure answers with the status the unary call would have ended with (see
`handlers.py`); server-streaming endpoints stay unary-stream calls. The same calls are served on a unix
socket in the node's `links/` directory when there is one (`node/socketlink.py`), which the node then
prefers: a message there costs ~50 µs from one process to the other instead of grpc.aio's ~200.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, NoReturn

import grpc

from ..node.api.calllink import Handler as LinkHandler
from ..node.api.calllink import Status, batched, serve_link
from ..node.api.proto import node_pb2
from .context import Context
from .handlers import Handler, admit, as_error, decoded, error_status

if TYPE_CHECKING:
    from .service import Service

__all__ = ["LINK_SERVICE", "LinkCall", "link_calls", "link_handler"]

LINK_SERVICE = "micro.node.v1.Instance"
"""The gRPC service an instance serves its link under (method `CallLink`)."""

Trailing = tuple[tuple[str, str], ...]


class _Ended(Exception):
    """A handler ended its call with a status of its own (`abort`, or `set_code` and a return)."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: Trailing) -> None:
        super().__init__(details)
        self.status = (code, details, trailing)


class LinkCall:
    """What a handler of a linked call gets where a unary call gives grpc's ServicerContext."""

    def __init__(self, metadata: dict[str, str], time_left: float | None) -> None:
        self._metadata = tuple(metadata.items())
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._task = asyncio.current_task()  # the call's: the link cancels it when the caller gives up
        self._deadline = None if time_left is None else loop.time() + time_left
        self._code = grpc.StatusCode.OK
        self._details = ""
        self._trailing: Trailing = ()

    def invocation_metadata(self) -> Trailing:
        return self._metadata

    def time_remaining(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - self._loop.time())

    async def abort(self, code: grpc.StatusCode, details: str = "", trailing_metadata: Trailing = ()) -> NoReturn:
        raise _Ended(code, details, tuple(trailing_metadata) or self._trailing)

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def set_trailing_metadata(self, trailing_metadata: Sequence[tuple[str, str]]) -> None:
        self._trailing = tuple(trailing_metadata)

    def peer(self) -> str:
        return "link"

    def cancelled(self) -> bool:
        return self._task is not None and self._task.cancelling() > 0

    def ended(self) -> None:
        """After the handler returned: the status it set, if it set one other than OK."""
        if self._code != grpc.StatusCode.OK:
            raise _Ended(self._code, self._details, self._trailing)


def link_calls(handlers: dict[str, Handler], service: Service) -> tuple[LinkHandler, Status]:
    """How a link of `service` serves a call of its unary endpoints (`handlers` by method path), and the
    status a failed one ends with: for its `Instance.CallLink` and for its link socket alike."""

    async def call(payload: bytes, time_left: float | None) -> bytes:
        request = node_pb2.InstanceCall.FromString(payload)
        handler = handlers.get(request.method)
        if handler is None:
            raise _Ended(grpc.StatusCode.UNIMPLEMENTED, f"{request.method} is not served over the call link", ())
        grpc_side = LinkCall(dict(request.metadata), time_left)
        try:
            ctx = Context(grpc_side, service, handler.name)
            admit(handler, service, ctx)
            reply = await handler.invoke(decoded(handler, service, request.body), ctx)
            grpc_side.ended()
            return handler.encode(reply)
        except _Ended:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a Micro error for the caller
            raise as_error(exc, service, handler.name) from None

    def status(exc: Exception) -> tuple[grpc.StatusCode, str, Trailing]:
        if isinstance(exc, _Ended):
            return exc.status
        return error_status(as_error(exc, service, "the call link"))

    return call, status


def link_handler(calls: tuple[LinkHandler, Status], stopping: asyncio.Event) -> grpc.RpcMethodHandler:
    """`Instance.CallLink` serving `calls` (see `link_calls`); a link ends once `stopping` is set and its
    calls are answered (calls sent after that fail UNAVAILABLE at the caller, which moves on to another
    instance)."""
    call, status = calls

    async def serve(batches: AsyncIterator[node_pb2.LinkBatch], context: grpc.aio.ServicerContext) -> None:
        await serve_link(batches, batched(context.write), call, status, stopping)

    return grpc.stream_stream_rpc_method_handler(serve, request_deserializer=node_pb2.LinkBatch.FromString,
                                                 response_serializer=node_pb2.LinkBatch.SerializeToString)

