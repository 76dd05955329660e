"""What the gateway needs from a node, as a protocol, and its implementation over the local API.

The gateway never touches node internals: it lists services, describes one (instances, endpoints and
the protobuf descriptors it was registered with) and makes calls, unary or server-streaming. Every
failure leaves a backend as a `MicroError` (from `micro.sdk.errors`) carrying the gRPC status of the
failure and the service's error body when it sent one; `gateway.errors` maps the status to HTTP.

`LocalApiBackend` talks to the node that owns a data dir over its unix socket (`DATA_DIR/node.sock`), the
way the SDK does. A node running the gateway in-process provides its own backend over its router;
`gateway.direct.DirectBackend` dials instances itself.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Protocol

import grpc

from ..node.proto import node_pb2
from ..sdk.channel import NodeChannel

__all__ = ["Backend", "LocalApiBackend"]


class Backend(Protocol):
    """The registry and call routing the gateway serves HTTP from. Failures raise `MicroError`."""

    async def services(self) -> list[node_pb2.ServiceInstance]:
        """Every instance of every service (endpoints included, descriptor sets not)."""
        ...

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        """The instances of one service and its FileDescriptorSet; NOT_FOUND for an unknown service."""
        ...

    async def call(self, request: node_pb2.CallRequest, timeout: float) -> node_pb2.CallReply:
        """A unary call routed to an instance, within `timeout` seconds."""
        ...

    def call_stream(
        self, request: node_pb2.CallRequest, timeout: float
    ) -> AsyncGenerator[node_pb2.CallReply, None]:
        """A server-streaming call; closing the generator cancels the call."""
        ...


class LocalApiBackend:
    """The backend of a gateway that runs beside a node: the node's local API on its unix socket."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self._node = NodeChannel(data_dir)

    async def services(self) -> list[node_pb2.ServiceInstance]:
        reply = await self._node.call(self._node.stub.Services, node_pb2.ServicesRequest())
        return list(reply.instances)

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        reply: node_pb2.DescribeReply = await self._node.call(
            self._node.stub.Describe, node_pb2.DescribeRequest(service=service)
        )
        return reply

    async def call(self, request: node_pb2.CallRequest, timeout: float) -> node_pb2.CallReply:
        request.timeout_s = timeout
        try:
            reply: node_pb2.CallReply = await self._node.stub.Call(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._node.error(exc) from None
        return reply

    async def call_stream(
        self, request: node_pb2.CallRequest, timeout: float
    ) -> AsyncGenerator[node_pb2.CallReply, None]:
        request.timeout_s = timeout
        call = self._node.stub.CallStream(request, timeout=timeout)
        try:
            async for reply in call:
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise self._node.error(exc) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._node.close()
