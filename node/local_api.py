"""The local API (`Node` service of `api/proto/node.proto`) on `DATA_DIR/node.sock`: what the CLI and the
SDK call. Each method hands its request to the node or to one of its capabilities; `rpc.py` turns every
failure into a status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api.errors import Unavailable
from .api.proto import node_pb2, node_pb2_grpc
from .capabilities import Capabilities
from .kv.config_tree import ConfigService
from .kv.service import KvService
from .rpc import guard, guard_stream, now, serve_link_of

if TYPE_CHECKING:
    from .agent import Node

__all__ = ["LocalApi"]


class LocalApi(node_pb2_grpc.NodeServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    async def Status(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self.node.status()))

    async def Members(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self.node.members()))

    async def Invite(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self.node.invite(request.ttl_s)))

    async def Join(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self.node.join_mesh(request.address, request.token))

    async def Leave(self, request: Any, context: Any) -> Any:
        self.node.leave()
        return node_pb2.LeaveReply()

    @property
    def _kv(self) -> KvService:
        if self.node.kv is None:
            raise Unavailable("the node is starting")
        return self.node.kv

    @property
    def _config(self) -> ConfigService:
        if self.node.config_api is None:
            raise Unavailable("the node is starting")
        return self.node.config_api

    async def KvPut(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._kv.put(request))

    async def KvPutMany(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._kv.put_many(request))

    async def KvGet(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._kv.get(request)))

    async def KvDelete(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._kv.delete(request))

    async def KvList(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._kv.list(request)))

    async def KvWatch(self, request: Any, context: Any) -> Any:
        async for change in guard_stream(self.node.log, context, lambda: self._kv.watch(request, context)):
            yield change

    async def KvDatabases(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._kv.databases()))

    async def KvTables(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._kv.tables(request)))

    async def ConfigGet(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._config.get(request)))

    async def ConfigSet(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._config.set(request))

    async def ConfigDelete(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._config.delete(request))

    async def ConfigWatch(self, request: Any, context: Any) -> Any:
        async for change in guard_stream(self.node.log, context, lambda: self._config.watch(request, context)):
            yield change

    async def Run(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self.node.supervisor.run(request))

    async def Processes(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self.node.supervisor.processes()))

    async def Logs(self, request: Any, context: Any) -> Any:
        async for line in guard_stream(self.node.log, context, lambda: self.node.supervisor.logs(request, context)):
            yield line

    async def Kill(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self.node.supervisor.kill(request))

    @property
    def _capabilities(self) -> Capabilities:
        if self.node.capabilities is None:
            raise Unavailable("the node is starting")
        return self.node.capabilities

    async def Register(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._capabilities.registry.register(request)))

    async def Heartbeat(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._capabilities.registry.heartbeat(request.id)))

    async def Deregister(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._capabilities.registry.deregister(request.id)))

    async def Services(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(
            node_pb2.ServicesReply(instances=self._capabilities.registry.instances(request.service))))

    async def Describe(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._capabilities.router.describe(request.service))

    async def Call(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._capabilities.router.call(request, context.time_remaining()))

    async def CallLink(self, request_iterator: Any, context: Any) -> Any:
        await serve_link_of(self.node.log, request_iterator, context, self.node.local_call)

    async def CallStream(self, request: Any, context: Any) -> Any:
        replies = lambda: self._capabilities.router.call_stream(request, context.time_remaining())
        async for reply in guard_stream(self.node.log, context, replies):
            yield reply

    async def Publish(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._capabilities.pubsub.publish(request)))

    async def PublishMany(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._capabilities.pubsub.publish_many_in_order(request))

    async def StreamPublish(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._capabilities.streams.publish(request))

    async def StreamPublishMany(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._capabilities.streams.publish_many(request))

    async def StreamInfo(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._capabilities.streams.info(request.topic)))

    async def StreamConsume(self, request_iterator: Any, context: Any) -> Any:
        # The stream's headers go out once the consumer is registered: clients wait for them.
        batches = lambda: self._capabilities.consumers.consume(request_iterator,
                                                           registered=lambda: context.send_initial_metadata(()))
        async for batch in guard_stream(self.node.log, context, batches):
            yield batch

    async def Subscribe(self, request: Any, context: Any) -> Any:
        # The stream's headers go out once the subscription is registered: clients wait for them.
        batches = lambda: self._capabilities.pubsub.subscribe(request.topic, request.group, request.queue_limit,
                                                          registered=lambda: context.send_initial_metadata(()))
        async for batch in guard_stream(self.node.log, context, batches):
            yield batch
