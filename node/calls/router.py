"""Calls routed by this node: which instance answers, and the peer link to the node that holds it.

A call names a service and an endpoint. The router takes the instances of the service that serve the
endpoint (NOT_FOUND naming the service, or the endpoint, when there are none) in the order
`candidates.CallOrder` gives: a healthy local instance first, then the healthy remote ones round-robin,
then those marked unhealthy as a last resort. A local instance is called directly
(`instances.InstanceChannels`: over its call link when it serves one, as the SDK's do, else by a unary
call); a remote one through the call link to its node (`Peer.CallLink`, see `calllink.py`: one stream per
peer carrying every call), the `CallRequest` sealed with the mesh's gossip keyring so that only members
can use it, and that node calls its instance the same way. The caller's metadata, the calling node's id
(`micro-caller`) and the deadline travel with the call (the timeout is `CallRequest.timeout_s`, else the
caller's deadline, else 30 s; a call cancelled here cancels the forwarded one: the link sends a cancel
frame, and grpc.aio cancels an instance's call).

An instance that cannot be reached (UNAVAILABLE that no service raised: refused connection, its node
down, or its node no longer holding it) is marked unhealthy for `candidates.UNHEALTHY_S` and the call
goes on to the next candidate, each instance tried at most once, all within the deadline. Every other
failure, the service's own errors included, goes back to the caller unchanged (`errors.Relayed`).
Server-streaming calls route the same way, and move on only while nothing has been streamed yet.

`Describe` answers with the service's instances and its descriptor set: registered here, else fetched
from a node that holds an instance (`Peer.Descriptor`), checked against the gossiped hash, and cached by
that hash.
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import AsyncGenerator, AsyncIterator, Callable

import grpc

from ...identity.keyring import Keyring
from ..api.calllink import CallLink
from ..api.errors import InvalidArgument, NodeError, NotFound, Relayed, Unavailable
from ..api.instances import InstanceChannels, call_metadata
from ..api.proto import node_pb2, node_pb2_grpc
from ..frames import seal, unseal
from ..transport import NetTransport
from .candidates import CallOrder, Candidate
from .registry import Registry, descriptor_hash

__all__ = ["DEFAULT_TIMEOUT", "Router"]

DEFAULT_TIMEOUT = 30.0
_DESCRIPTOR_CACHE = 256
_DESCRIBE_TIMEOUT = 5.0


class Router:
    """Routes calls from the local API (and the in-process gateway) and serves those forwarded to this
    node's instances over the peer link. `keyring` returns the mesh's current gossip keyring."""

    def __init__(self, registry: Registry, transport: NetTransport, keyring: Callable[[], Keyring]) -> None:
        self._registry = registry
        self._transport = transport
        self._keyring = keyring
        self.instances = InstanceChannels()
        self._loop = asyncio.get_running_loop()
        self._order = CallOrder()
        self._descriptors: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
        self._peers: dict[str, tuple[grpc.aio.Channel, node_pb2_grpc.PeerStub, CallLink]] = {}
        self._closing: set[asyncio.Task[None]] = set()
        registry.forgotten = self._forget
        self.stats = collections.Counter(dict.fromkeys(("calls", "forwarded", "unreachable", "served"), 0))
        """`calls` routed here, `forwarded` to other nodes, instances found `unreachable` (each time, the
        call moved on to the next candidate), calls `served` for other nodes."""

    # ---- calls made here ----------------------------------------------------------------------------

    async def call(self, request: node_pb2.CallRequest, time_left: float | None) -> node_pb2.CallReply:
        """Route a unary call; `time_left` is the caller's gRPC deadline in seconds, if it set one."""
        deadline = self._deadline(request, time_left)
        request.caller = self._registry.node_id
        self.stats["calls"] += 1
        failure: Relayed | None = None
        for instance, method in self._candidates(request):
            request.instance = instance.id
            try:
                if self._registry.is_local(instance.id):
                    body = await self._call_instance(instance, method, request, self._left(deadline))
                    return node_pb2.CallReply(body=body, instance=instance.id)
                self.stats["forwarded"] += 1
                return await self._forward(instance, request, self._left(deadline))
            except Relayed as failed:
                if not failed.unreachable:
                    raise
                self._order.unreachable(instance.id, self._loop.time())
                self.stats["unreachable"] += 1
                failure = failed
        assert failure is not None  # there was at least one candidate, and each one failed
        raise failure

    async def call_stream(self, request: node_pb2.CallRequest,
                          time_left: float | None) -> AsyncGenerator[node_pb2.CallReply, None]:
        """Route a server-streaming call; closing the iterator cancels it."""
        deadline = self._deadline(request, time_left)
        request.caller = self._registry.node_id
        self.stats["calls"] += 1
        failure: Relayed | None = None
        for instance, method in self._candidates(request):
            request.instance = instance.id
            streamed = False
            if self._registry.is_local(instance.id):
                replies = self._stream_instance(instance, method, request, self._left(deadline))
            else:
                self.stats["forwarded"] += 1
                replies = self._forward_stream(instance, request, self._left(deadline))
            try:
                async for reply in replies:
                    streamed = True
                    yield reply
                return
            except Relayed as failed:
                if streamed or not failed.unreachable:
                    raise
                self._order.unreachable(instance.id, self._loop.time())
                self.stats["unreachable"] += 1
                failure = failed
            finally:
                await replies.aclose()
        assert failure is not None
        raise failure

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        instances = self._registry.instances(service)
        if not instances:
            raise NotFound(f"service {service} not found")
        reply = node_pb2.DescribeReply(instances=instances)
        if any(i.descriptor_hash for i in instances):
            local = self._registry.local_descriptor_set(service)
            reply.descriptor_set = local if local is not None else await self._descriptor_set(service, instances)
        return reply

    # ---- calls forwarded to this node ----------------------------------------------------------------

    async def serve_call(self, frame: node_pb2.Frame, time_left: float | None) -> node_pb2.Frame:
        request = unseal(self._keyring(), frame, node_pb2.CallRequest)
        instance, method = self._local_target(request)
        self.stats["served"] += 1
        timeout = self._left(self._deadline(request, time_left))
        body = await self._call_instance(instance, method, request, timeout)
        return self._seal(node_pb2.CallReply(body=body, instance=instance.id))

    async def serve_stream(self, frame: node_pb2.Frame, time_left: float | None) -> AsyncIterator[node_pb2.Frame]:
        request = unseal(self._keyring(), frame, node_pb2.CallRequest)
        instance, method = self._local_target(request)
        self.stats["served"] += 1
        replies = self._stream_instance(instance, method, request, self._left(self._deadline(request, time_left)))
        try:
            async for reply in replies:
                yield self._seal(reply)
        finally:
            await replies.aclose()

    def serve_descriptor(self, frame: node_pb2.Frame) -> node_pb2.Frame:
        request = unseal(self._keyring(), frame, node_pb2.DescribeRequest)
        descriptor_set = self._registry.local_descriptor_set(request.service)
        if descriptor_set is None:
            raise NotFound(f"no instance of {request.service} with descriptors is registered at this node")
        return self._seal(node_pb2.DescribeReply(descriptor_set=descriptor_set))

    def counters(self) -> dict[str, int]:
        """For `micro node status`: calls routed here, forwarded, unreachable instances met, and calls
        served for other nodes."""
        return {f"services.{name}": count for name, count in sorted(self.stats.items())}

    async def close(self) -> None:
        if self._closing:
            await asyncio.wait(self._closing)
        for _, _, link in self._peers.values():
            await link.close()
        await self.instances.close()

    def _forget(self, instance: node_pb2.ServiceInstance) -> None:
        """A local instance left: close its channel (its port may soon serve something else)."""
        self._order.forget(instance.id)
        if any(self._registry.is_local(i.id) for i in self._registry.of_service(instance.service)
               if i.address == instance.address):
            return  # the same process registered again (after its TTL lapsed): the channel is still its own
        task = self._loop.create_task(self.instances.forget(instance.address))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    # ---- internals ----------------------------------------------------------------------------------

    def _deadline(self, request: node_pb2.CallRequest, time_left: float | None) -> float:
        if request.timeout_s < 0 or not math.isfinite(request.timeout_s):
            raise InvalidArgument("timeout_s must be a finite number of seconds, or 0 for the default")
        limits = [t for t in (request.timeout_s, time_left) if t]
        return self._loop.time() + (min(limits) if limits else DEFAULT_TIMEOUT)

    def _left(self, deadline: float) -> float:
        left = deadline - self._loop.time()
        if left <= 0:
            raise NodeError("the call's deadline passed before an instance answered", "DEADLINE_EXCEEDED")
        return left

    def _candidates(self, request: node_pb2.CallRequest) -> list[tuple[node_pb2.ServiceInstance, str]]:
        """Instances serving the endpoint, in the order to try them, with the method path of each."""
        instances = self._registry.of_service(request.service)
        if not instances:
            raise NotFound(f"service {request.service} not found")
        candidates = []
        for instance in instances:
            method = next((e.method for e in instance.endpoints if e.name == request.endpoint), None)
            if method is not None:
                candidates.append(Candidate(instance.id, self._registry.is_local(instance.id), (instance, method)))
        if not candidates:
            raise NotFound(f"service {request.service} has no endpoint {request.endpoint}")
        return self._order.order(request.service, candidates, self._loop.time())

    def _local_target(self, request: node_pb2.CallRequest) -> tuple[node_pb2.ServiceInstance, str]:
        instance = next((i for i in self._registry.of_service(request.service) if i.id == request.instance), None)
        if instance is None or not self._registry.is_local(instance.id):
            # UNAVAILABLE with no service's error: the routing node tries another instance.
            raise Unavailable(f"instance {request.instance} of {request.service} is not registered at this node")
        method = next((e.method for e in instance.endpoints if e.name == request.endpoint), None)
        if method is None:
            raise NotFound(f"service {request.service} has no endpoint {request.endpoint}")
        return instance, method

    async def _call_instance(self, instance: node_pb2.ServiceInstance, method: str, request: node_pb2.CallRequest,
                             timeout: float) -> bytes:
        try:
            return await self.instances.call(instance, method, request.body,
                                             call_metadata(request.metadata, request.caller), timeout)
        except grpc.aio.AioRpcError as exc:
            raise Relayed(exc) from None

    async def _stream_instance(self, instance: node_pb2.ServiceInstance, method: str, request: node_pb2.CallRequest,
                               timeout: float) -> AsyncGenerator[node_pb2.CallReply, None]:
        call = self.instances.stream(instance.address, method)(
            request.body, timeout=timeout, metadata=call_metadata(request.metadata, request.caller))
        try:
            async for body in call:
                yield node_pb2.CallReply(body=body, instance=instance.id)
        except grpc.aio.AioRpcError as exc:
            raise Relayed(exc) from None
        finally:
            call.cancel()

    async def _forward(self, instance: node_pb2.ServiceInstance, request: node_pb2.CallRequest,
                       timeout: float) -> node_pb2.CallReply:
        _, link = self._peer(instance.node_address)
        try:
            payload = await link.call(self._seal(request).SerializeToString(), timeout)
        except grpc.aio.AioRpcError as exc:
            raise self._peer_failed(instance.node_address, exc) from None
        return unseal(self._keyring(), node_pb2.Frame.FromString(payload), node_pb2.CallReply)

    async def _forward_stream(self, instance: node_pb2.ServiceInstance, request: node_pb2.CallRequest,
                              timeout: float) -> AsyncGenerator[node_pb2.CallReply, None]:
        stub, _ = self._peer(instance.node_address)
        call = stub.CallStream(self._seal(request), timeout=timeout)
        try:
            async for frame in call:
                yield unseal(self._keyring(), frame, node_pb2.CallReply)
        except grpc.aio.AioRpcError as exc:
            raise self._peer_failed(instance.node_address, exc) from None
        finally:
            call.cancel()

    async def _descriptor_set(self, service: str, instances: list[node_pb2.ServiceInstance]) -> bytes:
        wanted = next(i.descriptor_hash for i in instances if i.descriptor_hash)
        cached = self._descriptors.get(wanted)
        if cached is not None:
            return cached
        holders = [i for i in instances if i.descriptor_hash == wanted]
        request = self._seal(node_pb2.DescribeRequest(service=service))
        for instance in holders:
            try:
                stub, _ = self._peer(instance.node_address)
                frame = await stub.Descriptor(request, timeout=_DESCRIBE_TIMEOUT)
            except grpc.aio.AioRpcError as exc:
                self._peer_failed(instance.node_address, exc)
                continue
            descriptor_set = unseal(self._keyring(), frame, node_pb2.DescribeReply).descriptor_set
            if descriptor_hash(descriptor_set) == wanted:
                self._descriptors[wanted] = descriptor_set
                while len(self._descriptors) > _DESCRIPTOR_CACHE:
                    self._descriptors.popitem(last=False)
                return descriptor_set
        raise Unavailable(f"no node holding {service} answered with its descriptors")

    def _peer(self, address: str) -> tuple[node_pb2_grpc.PeerStub, CallLink]:
        # The transport's channel to the peer (the one gossip uses, usually connected); a stub and a call
        # link per channel (the link of an evicted channel fails with it).
        channel = self._transport.channel(address)
        kept = self._peers.get(address)
        if kept is None or kept[0] is not channel:
            stub = node_pb2_grpc.PeerStub(channel)
            kept = self._peers[address] = (channel, stub, CallLink(stub.CallLink))
        return kept[1], kept[2]

    def _peer_failed(self, address: str, exc: grpc.aio.AioRpcError) -> Relayed:
        failure = Relayed(exc)
        channel = self._transport.channel(address)
        if failure.unreachable and channel.get_state() == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            # The peer itself is down (not merely its instance): a channel in reconnect backoff would fail
            # fast for seconds after the peer is back, so the next call starts a fresh one.
            self._transport.evict(address)
            self._peers.pop(address, None)
        return failure

    def _seal(self, message: node_pb2.CallRequest | node_pb2.CallReply | node_pb2.DescribeRequest
              | node_pb2.DescribeReply) -> node_pb2.Frame:
        return seal(self._keyring(), self._transport.source, message)
