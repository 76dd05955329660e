"""The service registry of one node: its own instances, published as node-owned state, and the catalogue
of every instance in the mesh.

A service process registers its instance with its node (`register`), heartbeats within the instance's
TTL, and deregisters when it stops. Each registered instance is one entry of the node's owned state,
`svc/<instance id>` = CBOR `[service, version, address, endpoints, metadata, descriptor_hash]` (an
endpoint is the list of its eight `Endpoint` fields), which the mesh gossips and signs like any owned
state. Descriptor sets stay on the node that holds the instance (only their BLAKE2b-256 hash is gossiped):
owned values should stay small, and descriptors travel over peer links when someone asks (`routing`).
An instance that misses its TTL, or deregisters, is deleted from the owned state (`set_local(key, None)`).

The catalogue is built from the core's `OwnedStateChanged` events (remote owners; a value of None
deletes) plus the local instances. The core drops the owned state of a member that dies or leaves, with
events, so that member's instances disappear here without anything else to do. A record that does not
decode is dropped and counted, never raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cbor2
from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

from ...mesh import OwnedStateChanged
from ..api.errors import InvalidArgument, NotFound
from ..api.instances import UNIX
from ..api.names import node_id_text
from ..api.proto import node_pb2
from ..runtime import Runtime
from ..transport import parse_address

__all__ = ["DEFAULT_TTL", "KEY_PREFIX", "Registry", "descriptor_hash"]

KEY_PREFIX = "svc/"
DEFAULT_TTL = 10.0
# A TTL is how long a stalled process keeps receiving calls; beyond an hour is a mistake.
_MIN_TTL, _MAX_TTL = 0.5, 3600.0
# Heartbeats at a third of the TTL: two can be lost before the instance expires.
_HEARTBEATS_PER_TTL = 3
# An owned value travels in gossip: a registration bigger than this (endpoint schemas, metadata) is refused.
_MAX_RECORD = 64 << 10
_SERVICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_ENDPOINT = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*\Z")
_METHOD = re.compile(r"/[A-Za-z_][\w.]*/[A-Za-z_]\w*\Z")
_GRPC_SOCKET = re.compile(r"[0-9a-f]{8,64}\.sock\Z")
_LINK_SOCKET = re.compile(r"[0-9a-f]{8,64}\.link\.sock\Z")
_CODECS = ("json", "proto")
_ENDPOINT_FIELDS = ("name", "method", "codec", "request_type", "response_type", "request_schema",
                    "response_schema", "server_streaming")


def descriptor_hash(descriptor_set: bytes) -> bytes:
    """BLAKE2b-256 of a descriptor set; empty for none."""
    return hashlib.blake2b(descriptor_set, digest_size=32).digest() if descriptor_set else b""


@dataclass
class _Local:
    instance: node_pb2.ServiceInstance
    descriptor_set: bytes
    ttl: float
    expires_at: float
    timer: asyncio.TimerHandle | None = None


class Registry:
    """This node's instances and the mesh's catalogue."""

    def __init__(self, runtime: Runtime, node_id: str, node_address: str, instances: Path) -> None:
        self._runtime = runtime
        self.node_id = node_id
        self._node_address = node_address
        self._instances = instances
        """The directory an instance's unix sockets must be in (see `_check_sockets`)."""
        self.forgotten: Callable[[node_pb2.ServiceInstance], None] = lambda instance: None
        """Told of every local instance that leaves (the router closes its channel)."""
        self._local: dict[str, _Local] = {}
        # Every instance in the mesh (local ones included) by service, then by id.
        self._services: dict[str, dict[str, node_pb2.ServiceInstance]] = {}
        self._remote_service: dict[str, str] = {}  # remote instance id -> its service
        self.dropped = 0
        """Remote records that did not decode."""

    # ---- the local API ------------------------------------------------------------------------------

    def register(self, request: node_pb2.RegisterRequest) -> node_pb2.RegisterReply:
        ttl = _check(request)
        _check_sockets(request, self._instances)
        instance = node_pb2.ServiceInstance(
            id=f"{request.service}-{secrets.token_hex(8)}", service=request.service, version=request.version,
            address=request.address, node=self.node_id, node_address=self._node_address,
            endpoints=request.endpoints, metadata=request.metadata,
            descriptor_hash=descriptor_hash(request.descriptor_set), call_link=request.call_link,
            link_socket=request.link_socket,
        )
        record = _encode(instance)
        if len(record) > _MAX_RECORD:
            raise InvalidArgument(f"the registration of {request.service} is {len(record)} bytes without its "
                                  f"descriptors; at most {_MAX_RECORD} are gossiped (shorten schemas or metadata)")
        local = _Local(instance, request.descriptor_set, ttl, self._runtime.now() + ttl)
        self._local[instance.id] = local
        self._add(instance)
        self._runtime.set_local(KEY_PREFIX + instance.id, record)
        self._arm(local)
        return node_pb2.RegisterReply(id=instance.id, heartbeat_s=ttl / _HEARTBEATS_PER_TTL)

    def heartbeat(self, instance_id: str) -> node_pb2.HeartbeatReply:
        local = self._local.get(instance_id)
        if local is None:
            raise NotFound(f"instance {instance_id} is not registered here (expired or never registered); "
                           "register again")
        local.expires_at = self._runtime.now() + local.ttl
        return node_pb2.HeartbeatReply()

    def deregister(self, instance_id: str) -> node_pb2.DeregisterReply:
        """Forget a local instance; an unknown id is not an error (it may have expired already)."""
        self._remove(instance_id)
        return node_pb2.DeregisterReply()

    def counters(self) -> dict[str, int]:
        """For `micro node status`: instances registered here and known in all, and dropped records."""
        return {"services.local_instances": len(self._local), "services.instances": len(self.instances()),
                "services.dropped_records": self.dropped}

    async def close(self) -> None:
        for local in self._local.values():
            if local.timer is not None:
                local.timer.cancel()

    def rebuilt(self) -> None:
        """The core was replaced (the node joined another mesh): publish the local instances in the new
        one, and forget the old mesh's."""
        for instance_id in list(self._remote_service):
            self._drop_remote(instance_id)
        for local in self._local.values():
            self._runtime.set_local(KEY_PREFIX + local.instance.id, _encode(local.instance))

    # ---- the catalogue ------------------------------------------------------------------------------

    def on_owned(self, event: OwnedStateChanged) -> None:
        if not event.key.startswith(KEY_PREFIX):
            return
        instance_id = event.key[len(KEY_PREFIX):]
        self._drop_remote(instance_id)
        if event.value is None:
            return
        owner = node_id_text(event.node_id)
        try:
            instance = _decode(event.value, instance_id, owner, self._runtime.member_address(event.node_id))
        except (cbor2.CBORDecodeError, ValueError, TypeError, KeyError, RecursionError):
            self.dropped += 1
            return
        self._remote_service[instance_id] = instance.service
        self._add(instance)

    def instances(self, service: str = "") -> list[node_pb2.ServiceInstance]:
        """Every instance of `service` (of every service for ""), in a stable order."""
        if service:
            return sorted(self._services.get(service, {}).values(), key=lambda i: i.id)
        return [i for name in sorted(self._services) for i in sorted(self._services[name].values(),
                                                                       key=lambda i: i.id)]

    def of_service(self, service: str) -> Iterable[node_pb2.ServiceInstance]:
        """The instances of a service, unordered (the routing path, called for every call)."""
        return self._services.get(service, {}).values()

    def is_local(self, instance_id: str) -> bool:
        return instance_id in self._local

    def local_descriptor_set(self, service: str, wanted_hash: bytes = b"") -> bytes | None:
        """The descriptor set a local instance of `service` registered (with `wanted_hash`, if given);
        None when no local instance has one."""
        for local in self._local.values():
            instance = local.instance
            if instance.service == service and instance.descriptor_hash and (
                    not wanted_hash or instance.descriptor_hash == wanted_hash):
                return local.descriptor_set
        return None

    # ---- internals ----------------------------------------------------------------------------------

    def _add(self, instance: node_pb2.ServiceInstance) -> None:
        self._services.setdefault(instance.service, {})[instance.id] = instance

    def _discard(self, service: str, instance_id: str) -> None:
        instances = self._services.get(service)
        if instances is not None:
            instances.pop(instance_id, None)
            if not instances:
                del self._services[service]

    def _drop_remote(self, instance_id: str) -> None:
        service = self._remote_service.pop(instance_id, None)
        if service is not None:
            self._discard(service, instance_id)

    def _remove(self, instance_id: str) -> None:
        local = self._local.pop(instance_id, None)
        if local is None:
            return
        if local.timer is not None:
            local.timer.cancel()
        self._discard(local.instance.service, instance_id)
        self._runtime.set_local(KEY_PREFIX + instance_id, None)
        self.forgotten(local.instance)

    def _arm(self, local: _Local) -> None:
        # One timer per instance at its expiry; a heartbeat only moves `expires_at`, and the timer re-arms.
        local.timer = asyncio.get_running_loop().call_at(local.expires_at, self._expire, local.instance.id)

    def _expire(self, instance_id: str) -> None:
        local = self._local.get(instance_id)
        if local is None:
            return
        if self._runtime.now() >= local.expires_at:
            self._remove(instance_id)
        else:
            self._arm(local)


def _check(request: node_pb2.RegisterRequest) -> float:
    """Refuse a registration the mesh could not route to; the instance's TTL in seconds."""
    if not _SERVICE.match(request.service):
        raise InvalidArgument(f"a service name is 1-64 letters, digits, '_', '.' or '-', not {request.service!r}")
    if not request.address.startswith(UNIX):
        _, port = parse_address(request.address, "instance address")
        if port == 0:
            raise InvalidArgument(f"instance address {request.address!r} needs a port")
    if not request.endpoints:
        raise InvalidArgument(f"{request.service} registers no endpoints")
    names: set[str] = set()
    for endpoint in request.endpoints:
        _check_endpoint(request.service, endpoint)
        if endpoint.name in names:
            raise InvalidArgument(f"{request.service} registers endpoint {endpoint.name} twice")
        names.add(endpoint.name)
    if request.descriptor_set:
        try:
            descriptor_pb2.FileDescriptorSet.FromString(request.descriptor_set)
        except DecodeError:
            raise InvalidArgument(f"the descriptor set of {request.service} is not a FileDescriptorSet") from None
    ttl = request.ttl_s or DEFAULT_TTL
    if not _MIN_TTL <= ttl <= _MAX_TTL:
        raise InvalidArgument(f"ttl_s must be between {_MIN_TTL:g} and {_MAX_TTL:g} seconds, not {ttl:g}")
    return ttl


def _check_sockets(request: node_pb2.RegisterRequest, instances: Path) -> None:
    """An instance's unix sockets are a `<hex>.sock` (its gRPC server, the address `unix:PATH`) and a
    `<hex>.link.sock` (its call link) in this node's instances directory: a registration must not point
    the node at any other socket of the machine."""
    if request.address.startswith(UNIX):
        path = request.address[len(UNIX):]
        if not _in(instances, path, _GRPC_SOCKET):
            raise InvalidArgument(f"instance address {request.address!r} is not unix:<hex>.sock in {instances}")
    if request.link_socket and not _in(instances, request.link_socket, _LINK_SOCKET):
        raise InvalidArgument(f"link_socket {request.link_socket!r} is not a <hex>.link.sock in {instances}")


def _in(directory: Path, path: str, name: re.Pattern[str]) -> bool:
    # Compared where they lead: the node and the service may spell the data dir differently.
    return (os.path.isabs(path) and bool(name.match(os.path.basename(path)))
            and os.path.realpath(os.path.dirname(path)) == os.path.realpath(directory))


def _check_endpoint(service: str, endpoint: node_pb2.Endpoint) -> None:
    where = f"endpoint {endpoint.name!r} of {service}"
    if not _ENDPOINT.match(endpoint.name):
        raise InvalidArgument(f"{where}: an endpoint is named Service.Method (e.g. Greeter.Hello)")
    if not _METHOD.match(endpoint.method):
        raise InvalidArgument(f"{where}: method {endpoint.method!r} is not a gRPC path (/package.Service/Method)")
    if endpoint.codec not in _CODECS:
        raise InvalidArgument(f"{where}: codec must be json or proto, not {endpoint.codec!r}")
    if endpoint.codec == "proto" and not (endpoint.request_type and endpoint.response_type):
        raise InvalidArgument(f"{where}: a proto endpoint names its request and response types")


def _encode(instance: node_pb2.ServiceInstance) -> bytes:
    endpoints = [[getattr(e, name) for name in _ENDPOINT_FIELDS] for e in instance.endpoints]
    return cbor2.dumps([instance.service, instance.version, instance.address, endpoints,
                        dict(instance.metadata), instance.descriptor_hash])


def _decode(value: bytes, instance_id: str, node: str, node_address: str) -> node_pb2.ServiceInstance:
    """A remote record as an instance; raises ValueError/TypeError/KeyError on anything malformed."""
    fields: Any = cbor2.loads(value)
    if not isinstance(fields, list) or len(fields) != 6:
        raise ValueError("not a service record")
    service, version, address, endpoints, metadata, digest = fields
    if not (isinstance(service, str) and isinstance(version, str) and isinstance(address, str)
            and isinstance(endpoints, list) and isinstance(metadata, dict) and isinstance(digest, bytes)):
        raise TypeError("service record fields")
    decoded = []
    for endpoint in endpoints:
        if not isinstance(endpoint, list) or len(endpoint) != len(_ENDPOINT_FIELDS):
            raise ValueError("endpoint")
        # protobuf checks each field's type (and raises TypeError) as the message is built.
        decoded.append(node_pb2.Endpoint(**dict(zip(_ENDPOINT_FIELDS, endpoint, strict=True))))
    return node_pb2.ServiceInstance(id=instance_id, service=service, version=version, address=address, node=node,
                                    node_address=node_address, endpoints=decoded, metadata=metadata,
                                    descriptor_hash=digest)
