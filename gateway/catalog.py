"""The gateway's view of the registry: services described once and kept, with a codec per endpoint.

A request must not pay for a registry look-up or descriptor parsing, so the first request for a service
describes it through the backend and builds its routes (endpoint -> codec); later ones find them in a
dict. An entry is described again after `ttl` seconds, or sooner when a request names an endpoint it
lacks (a new version may have added it); codecs are rebuilt only when the service's endpoints or its
descriptor set changed. Concurrent requests for a service being described wait for the one description.
When a service is no longer found it is dropped; other failures to describe keep serving the last
description.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from google.protobuf import descriptor_pool

from ..node.api.micro_errors import MicroError
from ..node.api.proto import node_pb2
from .backend import Backend
from .errors import gateway_error
from .transcode import Codec, JsonCodec, ProtoCodec, load_descriptors

__all__ = ["Catalog", "Route", "ServiceEntry"]

_MISS_REFRESH_S = 1.0
"""An unknown endpoint describes its service again if the description is at least this old."""


@dataclass(frozen=True)
class Route:
    """One endpoint of one service, ready to call."""

    service: str
    endpoint: node_pb2.Endpoint
    codec: Codec | None
    problem: MicroError | None = None
    """Why the endpoint cannot be called (its registered schema or types are unusable), if it cannot."""


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    routes: dict[str, Route]
    shape: tuple[object, ...]
    loaded_at: float

    def find(self, endpoint: str) -> Route | None:
        route = self.routes.get(endpoint)
        if route is None:
            route = next((r for name, r in self.routes.items() if name.lower() == endpoint.lower()), None)
        return route


class Catalog:
    """Described services by name; `route` answers (service, endpoint) with a route that has a codec, or
    raises (NOT_FOUND, or the route's problem)."""

    def __init__(
        self, backend: Backend, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._backend = backend
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, ServiceEntry] = {}
        self._loading: dict[str, asyncio.Future[ServiceEntry]] = {}

    async def route(self, service: str, endpoint: str) -> Route:
        entry = await self.entry(service)
        route = entry.find(endpoint)
        if route is None and self._clock() - entry.loaded_at >= _MISS_REFRESH_S:
            entry = await self._load(service)
            route = entry.find(endpoint)
        if route is None:
            known = ", ".join(sorted(entry.routes)) or "none"
            raise gateway_error(
                "NOT_FOUND", f"service {service} has no endpoint {endpoint} (endpoints: {known})"
            )
        if route.problem is not None:
            raise route.problem
        return route

    async def entry(self, service: str) -> ServiceEntry:
        entry = self._entries.get(service)
        if entry is not None and self._clock() - entry.loaded_at < self._ttl:
            return entry
        return await self._load(service)

    async def _load(self, service: str) -> ServiceEntry:
        loading = self._loading.get(service)
        if loading is None:
            loading = self._loading[service] = asyncio.ensure_future(self._describe(service))
            loading.add_done_callback(lambda _: self._loading.pop(service, None))
        return await asyncio.shield(loading)

    async def _describe(self, service: str) -> ServiceEntry:
        previous = self._entries.get(service)
        try:
            reply = await self._backend.describe(service)
            if not reply.instances:
                raise gateway_error("NOT_FOUND", f"service {service} not found")
        except MicroError as error:
            if error.status == "NOT_FOUND" or previous is None:
                self._entries.pop(service, None)
                raise
            entry = replace(previous, loaded_at=self._clock())
        else:
            entry = _entry(service, reply, previous, self._clock())
        self._entries[service] = entry
        return entry


def _entry(
    service: str, reply: node_pb2.DescribeReply, previous: ServiceEntry | None, now: float
) -> ServiceEntry:
    endpoints: dict[str, node_pb2.Endpoint] = {}
    for instance in reply.instances:
        for endpoint in instance.endpoints:
            endpoints.setdefault(endpoint.name, endpoint)
    # What the codecs are built from; the descriptor set itself, since not every backend fills in hashes.
    shape = (
        reply.descriptor_set,
        tuple(sorted(endpoint.SerializeToString() for endpoint in endpoints.values())),
    )
    if previous is not None and previous.shape == shape:
        return replace(previous, loaded_at=now)
    pool: descriptor_pool.DescriptorPool | MicroError
    try:
        pool = load_descriptors(reply.descriptor_set)
    except MicroError as problem:
        pool = problem
    routes = {name: _route(service, endpoint, pool) for name, endpoint in endpoints.items()}
    return ServiceEntry(service, routes, shape, now)


def _route(
    service: str, endpoint: node_pb2.Endpoint, pool: descriptor_pool.DescriptorPool | MicroError
) -> Route:
    codec: Codec
    try:
        if endpoint.codec == "proto":
            if isinstance(pool, MicroError):
                raise pool
            codec = ProtoCodec(service, pool, endpoint.request_type, endpoint.response_type)
        else:
            codec = JsonCodec(service, endpoint.request_schema, endpoint.response_schema)
    except MicroError as problem:
        return Route(service, endpoint, None, problem)
    return Route(service, endpoint, codec)
