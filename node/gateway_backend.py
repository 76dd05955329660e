"""The in-process gateway's backend: `micro.gateway.Backend` over this node's registry and router.

A node started with `--gateway HOST:PORT` serves the HTTP gateway in its own event loop, so a request
costs no hop through the local API's unix socket: it reads the registry and routes through the router
directly. The gateway expects every failure as a `MicroError`: a call that failed at the instance keeps
the service's own error (`from_grpc` of the relayed status), and the node's own refusals (unknown service
or endpoint, no instance reachable, deadline) carry the node's id.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING

from ..identity.errors import IdentityError
from ..sdk.channel import NODE_ID
from ..sdk.errors import MicroError, from_grpc, of_status
from .errors import NodeError, Relayed, code_of
from .proto import node_pb2

if TYPE_CHECKING:
    from .services import Services

__all__ = ["NodeBackend"]


class NodeBackend:
    """The registry, routing and pubsub of the node the gateway runs in."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._registry = services.registry
        self._router = services.router

    async def services(self) -> list[node_pb2.ServiceInstance]:
        return self._registry.instances()

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        try:
            return await self._router.describe(service)
        except (NodeError, IdentityError) as error:
            raise _micro(error, service) from None

    async def call(self, request: node_pb2.CallRequest, timeout: float) -> node_pb2.CallReply:
        try:
            return await self._router.call(request, timeout)
        except (NodeError, IdentityError) as error:
            raise _micro(error, request.service) from None

    async def call_stream(
        self, request: node_pb2.CallRequest, timeout: float
    ) -> AsyncGenerator[node_pb2.CallReply, None]:
        replies = self._router.call_stream(request, timeout)
        try:
            async for reply in replies:
                yield reply
        except (NodeError, IdentityError) as error:
            raise _micro(error, request.service) from None
        finally:
            await replies.aclose()


def _micro(error: NodeError | IdentityError, service: str) -> MicroError:
    if isinstance(error, Relayed):
        return from_grpc(error.rpc, service)
    return of_status(NODE_ID, code_of(error), str(error))
