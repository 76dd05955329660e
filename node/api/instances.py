"""Calling a service instance: generic bytes-in, bytes-out gRPC on the endpoint's method path.

An instance serves each endpoint on `Endpoint.method` (see docs/architecture.md, "How a node calls an
instance"), so a caller needs no generated code: the request body goes as it is and the reply bytes
come back as they are. An address is host:port, or `unix:PATH` for an SDK instance, which serves only on
a unix socket in its node's data dir (`DataDir.instances`): grpc dials both. `InstanceChannels` keeps one
`grpc.aio` channel per instance address and the multicallable of each (address, method), so a call costs
a dict look-up before the RPC itself. The node uses it for instances registered with it, the gateway's `DirectBackend` for instances it was given.
An instance made with the SDK also serves `Instance.CallLink`: its node's unary calls to it then ride one
call link (`link`, see `calllink.py`), each an `InstanceCall` naming the method; on the unix socket the
instance registered (`link_socket`, see `socketlink.py`) when it did, else on its gRPC server.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import grpc

from .calllink import CALLER_KEY, CallLink
from .proto import node_pb2
from .socketlink import socket_link

__all__ = ["UNIX", "InstanceChannels", "call_metadata"]

UNIX = "unix:"
"""How an instance address names a unix socket, `unix:/absolute/path` (grpc's spelling of the target); any
other address is host:port."""

Metadata = tuple[tuple[str, str], ...]

_LINK_METHOD = "/micro.node.v1.Instance/CallLink"


def call_metadata(metadata: Mapping[str, str], caller: str = "") -> Metadata | None:
    """The gRPC metadata of a call: the caller's own entries, then the calling node's id if known."""
    items = tuple(metadata.items())
    if caller:
        items += ((CALLER_KEY, caller),)
    return items or None


class InstanceChannels:
    """Channels to instances by address; made on first use, as a channel belongs to its event loop."""

    def __init__(self) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._unary: dict[tuple[str, str], grpc.aio.UnaryUnaryMultiCallable] = {}
        self._stream: dict[tuple[str, str], grpc.aio.UnaryStreamMultiCallable] = {}
        self._links: dict[str, CallLink] = {}

    def unary(self, address: str, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
        call = self._unary.get((address, method))
        if call is None:
            call = self._unary[address, method] = self._channel(address).unary_unary(method)
        return call

    def stream(self, address: str, method: str) -> grpc.aio.UnaryStreamMultiCallable:
        call = self._stream.get((address, method))
        if call is None:
            call = self._stream[address, method] = self._channel(address).unary_stream(method)
        return call

    async def call(self, instance: node_pb2.ServiceInstance, method: str, body: bytes, metadata: Metadata | None,
                   timeout: float) -> bytes:
        """One unary call of `method` on `instance`: over its call link when it serves one, else a unary
        gRPC call; raises `grpc.aio.AioRpcError` either way."""
        if instance.call_link:
            call = node_pb2.InstanceCall(method=method, body=body, metadata=dict(metadata or ()))
            return await self.link(instance.address, instance.link_socket).call(call.SerializeToString(), timeout)
        reply: bytes = await self.unary(instance.address, method)(body, timeout=timeout, metadata=metadata)
        return reply

    def link(self, address: str, socket: str = "") -> CallLink:
        """The call link to the instance at `address` (one that serves `Instance.CallLink`): on its unix
        `socket` when it has one."""
        link = self._links.get(address)
        if link is None:
            if socket:
                link = socket_link(Path(socket))
            else:
                link = CallLink(self._channel(address).stream_stream(
                    _LINK_METHOD, request_serializer=node_pb2.LinkBatch.SerializeToString,
                    response_deserializer=node_pb2.LinkBatch.FromString))
            self._links[address] = link
        return link

    async def forget(self, address: str) -> None:
        """Close the channel to an instance that left (the node forgets each one it registered, so the
        channels stay as many as the live instances)."""
        channel = self._channels.pop(address, None)
        self._unary = {key: call for key, call in self._unary.items() if key[0] != address}
        self._stream = {key: call for key, call in self._stream.items() if key[0] != address}
        link = self._links.pop(address, None)
        if link is not None:
            await link.close()
        if channel is not None:
            await channel.close()

    async def close(self) -> None:
        channels, self._channels, self._unary, self._stream = self._channels, {}, {}, {}
        links, self._links = self._links, {}
        for link in links.values():
            await link.close()
        for channel in channels.values():
            await channel.close()

    def _channel(self, address: str) -> grpc.aio.Channel:
        channel = self._channels.get(address)
        if channel is None:
            channel = self._channels[address] = grpc.aio.insecure_channel(address)
        return channel
