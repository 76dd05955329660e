"""A backend with no node: instances given to it, called directly over gRPC with raw bytes.

`DirectBackend` is the gateway's `Backend` for services whose instances are known up front: tests and
benchmarks stand real gRPC servers up and hand their `ServiceInstance` records (and descriptor sets) to
it. A call picks the service's instances round-robin and invokes the endpoint's gRPC method on the
instance's address as a generic call of bytes in and bytes out, so it needs no generated code either;
the calls go through `node.instances.InstanceChannels`, as a node's calls to its own instances do (over
the instance's call link when its record says it serves one, as SDK instances do).

It checks no credential (`authorize` lets everyone at everything: there are no rules without a node), so
it is a tool for tests and benchmarks, never a gateway to serve anyone with.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, Iterable, Iterator
from dataclasses import dataclass, field

import grpc

from ..node.api.instances import InstanceChannels, call_metadata
from ..node.api.micro_errors import from_grpc
from ..node.api.proto import node_pb2
from .errors import gateway_error

__all__ = ["DirectBackend"]


@dataclass
class _Service:
    instances: list[node_pb2.ServiceInstance] = field(default_factory=list)
    descriptor_set: bytes = b""
    turn: Iterator[int] = field(default_factory=itertools.count)


class DirectBackend:
    """Serves the instances it was given; `add` registers one (with its service's descriptor set)."""

    def __init__(self, instances: Iterable[tuple[node_pb2.ServiceInstance, bytes]] = ()) -> None:
        self._services: dict[str, _Service] = {}
        self._instances = InstanceChannels()
        for instance, descriptor_set in instances:
            self.add(instance, descriptor_set)

    def add(self, instance: node_pb2.ServiceInstance, descriptor_set: bytes = b"") -> None:
        entry = self._services.setdefault(instance.service, _Service())
        entry.instances.append(instance)
        entry.descriptor_set = descriptor_set or entry.descriptor_set

    async def authorize(self, credential: node_pb2.Credential, resource: str) -> None:
        return None

    async def services(self) -> list[node_pb2.ServiceInstance]:
        return [instance for entry in self._services.values() for instance in entry.instances]

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        entry = self._entry(service)
        return node_pb2.DescribeReply(instances=entry.instances, descriptor_set=entry.descriptor_set)

    async def call(self, request: node_pb2.CallRequest, timeout: float) -> node_pb2.CallReply:
        instance, method = self._pick(request)
        try:
            body = await self._instances.call(instance, method, request.body, call_metadata(request.metadata), timeout)
        except grpc.aio.AioRpcError as exc:
            raise from_grpc(exc, request.service) from None
        return node_pb2.CallReply(body=body, instance=instance.id)

    async def call_stream(
        self, request: node_pb2.CallRequest, timeout: float
    ) -> AsyncGenerator[node_pb2.CallReply, None]:
        instance, method = self._pick(request)
        call = self._instances.stream(instance.address, method)(
            request.body, timeout=timeout, metadata=call_metadata(request.metadata)
        )
        try:
            async for body in call:
                yield node_pb2.CallReply(body=body, instance=instance.id)
        except grpc.aio.AioRpcError as exc:
            raise from_grpc(exc, request.service) from None
        finally:
            call.cancel()

    async def close(self) -> None:
        await self._instances.close()

    def _entry(self, service: str) -> _Service:
        entry = self._services.get(service)
        if entry is None or not entry.instances:
            raise gateway_error("NOT_FOUND", f"service {service} not found")
        return entry

    def _pick(self, request: node_pb2.CallRequest) -> tuple[node_pb2.ServiceInstance, str]:
        entry = self._entry(request.service)
        instance = entry.instances[next(entry.turn) % len(entry.instances)]
        for endpoint in instance.endpoints:
            if endpoint.name == request.endpoint:
                return instance, endpoint.method
        raise gateway_error("UNIMPLEMENTED", f"service {request.service} has no endpoint {request.endpoint}")
