"""Calls to any service in the mesh, through the local node.

    async with Client() as client:
        reply = await client.call("helloworld", "Helloworld.Call", {"name": "Alice"}, timeout=5)
        reply = await client.call("greeter", "Greeter.SayHello", HelloRequest(name="a"),
                                  response_type=HelloReply)
        async with client.stream("helloworld", "Helloworld.Stream", {"name": "a", "count": 3}) as replies:
            async for reply in replies:
                ...

A dict request travels as JSON and the reply comes back as a dict; a protobuf message travels serialized
and the reply is parsed as `response_type` (or returned as bytes without one). The node picks the
instance (its own first, then round-robin), forwards the call, and retries it on another instance when
one is unavailable; `retries` here covers the rest (a node restarting, no instance up for a moment): the
call is tried again, at most `retries` more times, only when it failed UNAVAILABLE. Every failure is a
`MicroError`, with the service's own id, code and detail when the service raised it. A client's calls
share one stream to the node (`NodeChannel.link`, see node/calllink.py) rather than one gRPC call each.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf.message import Message

from ..node.api.proto import node_pb2
from .channel import NodeUser, Stream
from .errors import Unavailable

__all__ = ["Client"]

# Pause before retry n is n times this: long enough for a restarting node to answer.
_RETRY_PAUSE = 0.1


class Client(NodeUser):
    """Calls services through the node of a data dir (argument, else MICRO_DATA_DIR, else ~/.micro), on
    one channel kept open until `close`."""

    async def call(self, service: str, endpoint: str, request: Mapping[str, Any] | Message, *,
                   timeout: float | None = None, metadata: Mapping[str, str] | None = None, retries: int = 1,
                   response_type: type[Message] | None = None) -> Any:
        """Call `endpoint` ("Helloworld.Call") of `service`; `timeout` in seconds (None: the node's
        default, 30 s); `metadata` reaches the handler as `ctx.metadata`."""
        call = _call_request(service, endpoint, request, timeout, metadata)
        for attempt in range(retries + 1):
            try:
                reply = node_pb2.CallReply.FromString(await self._node.link.call(call.SerializeToString(), timeout))
                return _reply(reply, request, response_type)
            except grpc.aio.AioRpcError as exc:
                error = self._node.error(exc)
                if not isinstance(error, Unavailable) or attempt == retries:
                    raise error from None
            await asyncio.sleep(_RETRY_PAUSE * (attempt + 1))
        raise AssertionError("the last attempt returns or raises")

    def stream(self, service: str, endpoint: str, request: Mapping[str, Any] | Message, *,
               timeout: float | None = None, metadata: Mapping[str, str] | None = None,
               response_type: type[Message] | None = None) -> Stream[Any]:
        """The messages of a server-streaming endpoint, as an async iterator (`close` cancels the call)."""
        call = _call_request(service, endpoint, request, timeout, metadata)
        return Stream(self._node, self._node.stub.CallStream(call, timeout=timeout),
                      lambda reply: _reply(reply, request, response_type))


def _call_request(service: str, endpoint: str, request: Mapping[str, Any] | Message, timeout: float | None,
                  metadata: Mapping[str, str] | None) -> node_pb2.CallRequest:
    body = request.SerializeToString() if isinstance(request, Message) else json.dumps(dict(request)).encode()
    return node_pb2.CallRequest(service=service, endpoint=endpoint, body=body, metadata=dict(metadata or {}),
                                timeout_s=timeout or 0.0)


def _reply(reply: node_pb2.CallReply, request: Mapping[str, Any] | Message,
           response_type: type[Message] | None) -> Any:
    if response_type is not None:
        return response_type.FromString(reply.body)
    if isinstance(request, Message):
        return reply.body
    return json.loads(reply.body)
