"""What the gateway needs from a node, as a protocol, and its implementation over the local API.

The gateway never touches node internals: it asks whether a credential may reach a resource, lists
services, describes one (instances, endpoints and the protobuf descriptors it was registered with) and
makes calls, unary or server-streaming. A backend that has a node behind it is also a `PubsubBackend`:
it publishes and subscribes. Every
failure leaves a backend as a `MicroError` (from `micro.node.api.micro_errors`) carrying the gRPC status of the
failure and the service's error body when it sent one; `gateway.errors` maps the status to HTTP. A
backend in a node is also a `LoggingBackend`: the gateway's failures go to the node's log.

`LocalApiBackend` talks to the node that owns a data dir over its unix socket (`DATA_DIR/node.sock`), the
way the SDK does. The socket's owner is the node's admin, so every request that acts for an HTTP client
names the client's credential (its token, or the public: never the socket owner's authority), and the
node checks it: `authorize` (the `Authorize` RPC) before anything else, then the call, publish or
subscription itself. The registry pages are read as the socket's owner once `authorize` let the client
at `service:*`. A node running the gateway in-process provides its own backend over its router and
pubsub; `gateway.direct.DirectBackend` dials instances itself (no node, so no pubsub).
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Protocol, runtime_checkable

import grpc

from ..node.api.proto import node_pb2
from ..sdk.channel import NodeChannel, Stream
from .logs import Log

__all__ = ["Backend", "LocalApiBackend", "LoggingBackend", "PubsubBackend"]


class Backend(Protocol):
    """The registry and call routing the gateway serves HTTP from. Failures raise `MicroError`."""

    async def authorize(self, credential: node_pb2.Credential, resource: str) -> None:
        """Raise UNAUTHENTICATED (a missing or invalid token) or PERMISSION_DENIED unless the rules let
        `credential` at `resource` (`service:S:E`, `service:*`, `topic:T`)."""
        ...

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


@runtime_checkable
class PubsubBackend(Protocol):
    """The pubsub of the node behind a backend. Failures raise `MicroError`."""

    async def publish(self, request: node_pb2.PublishRequest) -> node_pb2.PublishReply:
        """Publish one message; INVALID_ARGUMENT for a bad topic or an oversized payload."""
        ...

    async def subscribe(self, request: node_pb2.SubscribeRequest) -> AsyncGenerator[node_pb2.PubsubBatch, None]:
        """Returns once the subscription is registered on the node; closing the generator removes it."""
        ...


@runtime_checkable
class LoggingBackend(Protocol):
    """A backend with a log of its own (the node's, for a gateway in a node): the gateway records the
    failures it did not expect there, instead of in Python's logging."""

    @property
    def log(self) -> Log: ...


class LocalApiBackend:
    """The backend of a gateway that runs beside a node: the node's local API on its unix socket."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        self._node = NodeChannel(data_dir)

    async def authorize(self, credential: node_pb2.Credential, resource: str) -> None:
        await self._node.call(self._node.stub.Authorize, node_pb2.AuthorizeRequest(credential=credential,
                                                                                   resource=resource))

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
            payload = await self._node.link.call(request.SerializeToString(), timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._node.error(exc) from None
        return node_pb2.CallReply.FromString(payload)

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

    async def publish(self, request: node_pb2.PublishRequest) -> node_pb2.PublishReply:
        reply: node_pb2.PublishReply = await self._node.call(self._node.stub.Publish, request)
        return reply

    async def subscribe(self, request: node_pb2.SubscribeRequest) -> AsyncGenerator[node_pb2.PubsubBatch, None]:
        stream = self._node.stream(self._node.stub.Subscribe, request, lambda batch: batch)
        await stream.__aenter__()  # the node answers with its headers once the subscription is registered
        return _closing(stream)

    async def close(self) -> None:
        await self._node.close()


async def _closing(stream: Stream[node_pb2.PubsubBatch]) -> AsyncGenerator[node_pb2.PubsubBatch, None]:
    try:
        async for batch in stream:
            yield batch
    finally:
        stream.close()
