"""The peer API (`Peer` service of `api/proto/node.proto`) on the node's TCP port: what other members
call — gossip frames over peer links, joins and invite redemptions, routed calls, pubsub deliveries and
stream copies and reads. Everything but `Join` travels sealed with the mesh's keyring (checked by the part
that serves it). A sealed frame whose source is a revoked member's address is refused here, before it is
opened (`auth/revocation.py`); gossip frames (`Deliver`) are refused by their sender's id in the wire.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .api.errors import PermissionDenied, Unavailable
from .api.proto import node_pb2, node_pb2_grpc
from .calls.router import Router
from .rpc import guard, guard_stream, now, serve_link_of
from .streams.service import Streams

if TYPE_CHECKING:
    from .agent import Node

__all__ = ["PeerApi"]


class PeerApi(node_pb2_grpc.PeerServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    def _refused(self, frame: node_pb2.Frame) -> bool:
        revocations = self.node.revocations
        return revocations is not None and revocations.refuses(frame.source)

    def _admit(self, frame: node_pb2.Frame) -> node_pb2.Frame:
        """`frame`, unless its source is a revoked member (PermissionDenied)."""
        if self._refused(frame):
            raise PermissionDenied(f"{frame.source} is the address of a revoked member")
        return frame

    async def _admitted(self, frames: AsyncIterator[node_pb2.Frame]) -> AsyncIterator[node_pb2.Frame]:
        """`frames` but those from a revoked member (pubsub is at most once: they are dropped, counted)."""
        async for frame in frames:
            if not self._refused(frame):
                yield frame

    async def Deliver(self, request: Any, context: Any) -> Any:
        if self.node.runtime is not None:
            self.node.runtime.frame_received(request.data, request.source)
        return node_pb2.Empty()

    async def Join(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self.node.admit(request))

    async def RedeemInvite(self, request: Any, context: Any) -> Any:
        def serve() -> Any:
            if self.node.invites is None:
                raise Unavailable("the node is starting")
            return self.node.invites.serve(self._admit(request))

        return await guard(self.node.log, context, lambda: now(serve()))

    @property
    def _router(self) -> Router:
        if self.node.capabilities is None:
            raise Unavailable("the node is starting")
        return self.node.capabilities.router

    async def CallLink(self, request_iterator: Any, context: Any) -> Any:
        async def call(payload: bytes, time_left: float | None) -> bytes:
            reply = await self._router.serve_call(self._admit(node_pb2.Frame.FromString(payload)), time_left)
            return reply.SerializeToString()

        await serve_link_of(self.node.log, request_iterator, context, call)

    async def CallStream(self, request: Any, context: Any) -> Any:
        frames = lambda: self._router.serve_stream(self._admit(request), context.time_remaining())
        async for frame in guard_stream(self.node.log, context, frames):
            yield frame

    async def Descriptor(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._router.serve_descriptor(self._admit(request))))

    async def Publish(self, request_iterator: Any, context: Any) -> Any:
        if self.node.capabilities is None:
            return node_pb2.Empty()  # starting: at most once, what came is lost
        return await self.node.capabilities.pubsub.serve_peer(self._admitted(request_iterator))

    @property
    def _streams(self) -> Streams:
        if self.node.capabilities is None:
            raise Unavailable("the node is starting")
        return self.node.capabilities.streams

    async def StreamReplicate(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._streams.serve_replicate(self._admit(request)))

    async def StreamRead(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._streams.serve_read(self._admit(request)))

    async def StreamHeads(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._streams.serve_heads(self._admit(request)))
