"""The in-process gateway's backend: `micro.gateway.Backend` over this node's registry and router.

A node started with `--gateway HOST:PORT` serves the HTTP gateway in its own event loop, so a request
costs no hop through the local API's unix socket: it reads the registry and routes through the router
directly. The gateway expects every failure as a `MicroError`: a call that failed at the instance keeps
the service's own error (`from_grpc` of the relayed status), and the node's own refusals (unknown service
or endpoint, no instance reachable, deadline) carry the node's id. Publishes and subscriptions go to
the node's `Pubsub` directly. The node's `Auth` checks every request for the credential the gateway
names: `authorize` first, before the gateway reveals or reads anything, and calls, publishes and
subscriptions once more as they are made. Its `log` makes it a `micro.gateway.LoggingBackend`: the gateway's failures
are records in the node's log stream (JSON lines on stderr, `node.log`), never loose traceback lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from ..identity.errors import IdentityError
from .api.errors import NodeError, Relayed, Unavailable, code_of
from .api.micro_errors import NODE_ID, MicroError, from_grpc, of_status
from .api.proto import node_pb2
from .log import Logger

if TYPE_CHECKING:
    from .auth.service import Auth
    from .capabilities import Capabilities

__all__ = ["NodeBackend"]


class NodeBackend:
    """The registry, routing and pubsub of the node the gateway runs in."""

    def __init__(self, services: Capabilities, log: Logger, auth: Callable[[], Auth | None]) -> None:
        self._capabilities = services
        self._get_auth = auth
        self._registry = services.registry
        self._router = services.router
        # The gateway's failure records go to the node's own log, at its level.
        self.log = log

    async def services(self) -> list[node_pb2.ServiceInstance]:
        return self._registry.instances()

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        try:
            return await self._router.describe(service)
        except (NodeError, IdentityError) as error:
            raise _micro(error, service) from None

    def _auth(self) -> Auth:
        auth = self._get_auth()
        if auth is None:
            raise Unavailable("the node is starting")
        return auth

    def _admit(self, request: node_pb2.CallRequest) -> None:
        # The gateway says for whom (a token, or the public); without a word it is the public.
        auth = self._auth()
        auth.admit_call(request, auth.requester(request.credential))

    def _check(self, credential: node_pb2.Credential, resource: str) -> None:
        auth = self._auth()
        auth.check(auth.requester(credential), resource)

    async def authorize(self, credential: node_pb2.Credential, resource: str) -> None:
        try:
            self._check(credential, resource)
        except NodeError as error:
            raise _micro(error, NODE_ID) from None

    async def call(self, request: node_pb2.CallRequest, timeout: float) -> node_pb2.CallReply:
        try:
            self._admit(request)
            return await self._router.call(request, timeout)
        except (NodeError, IdentityError) as error:
            raise _micro(error, request.service) from None

    async def call_stream(
        self, request: node_pb2.CallRequest, timeout: float
    ) -> AsyncGenerator[node_pb2.CallReply, None]:
        try:
            self._admit(request)
        except NodeError as error:
            raise _micro(error, request.service) from None
        replies = self._router.call_stream(request, timeout)
        try:
            async for reply in replies:
                yield reply
        except (NodeError, IdentityError) as error:
            raise _micro(error, request.service) from None
        finally:
            await replies.aclose()

    async def publish(self, request: node_pb2.PublishRequest) -> node_pb2.PublishReply:
        try:
            self._check(request.credential, f"topic:{request.topic}")
            return self._capabilities.pubsub.publish(request)
        except NodeError as error:
            raise _micro(error, NODE_ID) from None

    async def subscribe(self, request: node_pb2.SubscribeRequest) -> AsyncGenerator[node_pb2.PubsubBatch, None]:
        try:
            auth = self._auth()
            principal = auth.requester(request.credential)
            auth.check(principal, f"topic:{request.topic}")
        except NodeError as error:
            raise _micro(error, NODE_ID) from None
        registered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def mark() -> None:
            registered.set_result(None)

        batches = self._capabilities.pubsub.subscribe(request.topic, request.group, request.queue_limit, registered=mark)
        # The subscription registers on its first step, then calls `mark`: run it that far here, so it
        # is in place when this returns (or its refusal is raised here).
        first: asyncio.Future[node_pb2.PubsubBatch] = asyncio.ensure_future(batches.__anext__())
        waits: list[asyncio.Future[Any]] = [first, registered]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if first.done():
            try:
                first.result()
            except NodeError as error:
                raise _micro(error, NODE_ID) from None
        return _refusals_as_micro(auth.delivered(request.credential.token or None, principal, request.topic,
                                                 _continued(first, batches)))


async def _refusals_as_micro(batches: AsyncIterator[node_pb2.PubsubBatch]) -> AsyncGenerator[node_pb2.PubsubBatch, None]:
    """A subscription ended by the node's auth (an expired or revoked token) ends with a `MicroError`."""
    try:
        async for batch in batches:
            yield batch
    except NodeError as error:
        raise _micro(error, NODE_ID) from None
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def _continued(
    first: asyncio.Future[node_pb2.PubsubBatch], batches: AsyncIterator[node_pb2.PubsubBatch]
) -> AsyncGenerator[node_pb2.PubsubBatch, None]:
    """The batches of a subscription whose first read is `first`, already under way."""
    try:
        yield await first
        async for batch in batches:
            yield batch
    finally:
        first.cancel()
        await asyncio.wait({first})  # the subscription is idle again before it is closed
        await batches.aclose()  # type: ignore[attr-defined]


def _micro(error: NodeError | IdentityError, service: str) -> MicroError:
    if isinstance(error, Relayed):
        return from_grpc(error.rpc, service)
    return of_status(NODE_ID, code_of(error), str(error))
