"""The SDK's connection to the local node: one grpc.aio channel on `unix:DATA_DIR/node.sock`.

A `NodeChannel` is opened on first use and kept for the life of its owner (a `kv.Store`, a `config.Config`),
so a read costs one unary call and nothing else. Every failure of a call leaves here as a `MicroError`;
a node that is not running is reported in the same words as the CLI uses.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Generic, Self, TypeVar

import grpc

from ..node.api.calllink import CallLink
from ..node.api.client import LOCAL_CHANNEL_OPTIONS
from ..node.api.datadir import DataDir
from ..node.api.micro_errors import NODE_ID
from ..node.api.proto import node_pb2_grpc
from ..node.api.socketlink import socket_link
from .errors import MicroError, from_grpc, unavailable

__all__ = ["NODE_ID", "NodeChannel", "NodeUser", "Stream"]

"""The `id` of errors raised by the local node."""

_CALL_TIMEOUT = 10.0

_T = TypeVar("_T")


class NodeChannel:
    """Calls the node that owns a data dir (from the argument, else MICRO_DATA_DIR, else ~/.micro)."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self.data_dir = DataDir.resolve(data_dir)
        self._channel: grpc.aio.Channel | None = None
        self._stub: node_pb2_grpc.NodeStub | None = None
        self._link: CallLink | None = None

    @property
    def stub(self) -> node_pb2_grpc.NodeStub:
        # Opened lazily: a grpc.aio channel belongs to the event loop running when it is made.
        if self._stub is None:
            self._channel = grpc.aio.insecure_channel(f"unix:{self.data_dir.socket}", options=LOCAL_CHANNEL_OPTIONS)
            self._stub = node_pb2_grpc.NodeStub(self._channel)
        return self._stub

    @property
    def link(self) -> CallLink:
        """Routed calls (`Client.call`) multiplexed on one stream to the node (see node/calllink.py): on
        the node's `link.sock` where it listens (node/socketlink.py), else over gRPC."""
        if self._link is None:
            path = self.data_dir.link_socket
            if path.exists():
                self._link = socket_link(path)
            else:
                self._link = CallLink(self.stub.CallLink)
        return self._link

    async def call(self, method: Callable[..., Any], request: Any,
                   metadata: tuple[tuple[str, str], ...] | None = None) -> Any:
        """One unary call; `method` is an attribute of `stub`."""
        try:
            return await method(request, timeout=_CALL_TIMEOUT, metadata=metadata)
        except grpc.aio.AioRpcError as exc:
            raise self.error(exc) from None

    def stream(self, method: Callable[..., Any], request: Any, convert: Callable[[Any], _T]) -> Stream[_T]:
        """A server stream whose messages come out through `convert`."""
        return Stream(self, method(request), convert)

    def error(self, exc: grpc.aio.AioRpcError) -> MicroError:
        details = exc.details() or ""
        if exc.code() == grpc.StatusCode.UNAVAILABLE and details.startswith("failed to connect"):
            return unavailable(NODE_ID, f"no node running at {self.data_dir} (start one with `micro node start`)")
        return from_grpc(exc, NODE_ID)

    async def close(self) -> None:
        if self._link is not None:
            link, self._link = self._link, None
            await link.close()
        if self._channel is not None:
            channel, self._channel, self._stub = self._channel, None, None
            await channel.close()


class NodeUser:
    """Base of the SDK objects that talk to the node: an async context manager that closes the channel."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self._node = NodeChannel(data_dir)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._node.close()


class Stream(Generic[_T]):
    """An async iterator over a server stream; `close` (or leaving `async with`) cancels it.

    Entering `async with` waits until the node has set the stream up (it sends its headers then), so
    every change made after that is seen; a bare `async for` starts it on the first read instead.
    """

    def __init__(self, channel: NodeChannel, call: Any, convert: Callable[[Any], _T]) -> None:
        self._channel = channel
        self._call = call
        self._convert = convert
        self._closed = False

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> _T:
        if self._closed:
            raise StopAsyncIteration
        try:
            message = await self._call.read()
        except asyncio.CancelledError:
            # grpc.aio reports a call cancelled by `close` or by closing the channel this way too; only a
            # cancellation of the reading task itself is passed on.
            task = asyncio.current_task()
            if self._call.cancelled() and (task is None or not task.cancelling()):
                raise StopAsyncIteration from None
            raise
        except grpc.aio.AioRpcError as exc:
            if self._closed or exc.code() == grpc.StatusCode.CANCELLED:
                raise StopAsyncIteration from None
            raise self._channel.error(exc) from None
        if message is grpc.aio.EOF:
            raise StopAsyncIteration
        return self._convert(message)

    async def __aenter__(self) -> Self:
        try:
            await self._call.initial_metadata()
            if self._call.done():
                # A call that failed before its headers still hands back (empty) metadata: raise its status.
                await self._call.wait_for_connection()
        except grpc.aio.AioRpcError as exc:
            raise self._channel.error(exc) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._call.cancel()
