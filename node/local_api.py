"""The local API (`Node` service of `api/proto/node.proto`) on `DATA_DIR/node.sock`: what the CLI and the
SDK call. Each method hands its request to the node or to one of its capabilities; `rpc.py` turns every
failure into a status.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..identity.authstate import ADMIN, Principal
from ..identity.records import ADMIN_SCOPE, SECRETS_SCOPE
from .api.bearer import bearer
from .api.errors import Unavailable
from .api.proto import node_pb2, node_pb2_grpc
from .auth.service import Auth
from .capabilities import Capabilities
from .kv.config_tree import CONFIG_DB, ConfigService
from .kv.service import DEFAULT_NAME, KvService
from .rpc import guard, guard_stream, now, serve_link_of
from .streams.consumer_session import OFFSETS_DB

if TYPE_CHECKING:
    from .agent import Node

__all__ = ["LocalApi"]

_T = TypeVar("_T")


_NODE_DBS = (f"kv:{CONFIG_DB}:", f"kv:{OFFSETS_DB}:")


def _kv(request: Any) -> str:
    return f"kv:{request.db or DEFAULT_NAME}:{request.table or DEFAULT_NAME}"


class LocalApi(node_pb2_grpc.NodeServicer):
    def __init__(self, node: Node) -> None:
        self.node = node

    # ---- who asks, and may they ----------------------------------------------------------------

    @property
    def _auth(self) -> Auth:
        if self.node.auth is None:
            raise Unavailable("the node is starting")
        return self.node.auth

    def _node_op(self, operation: str) -> str:
        return f"node:{self.node.node_key.public.id}:{operation}"

    def _caller(self, context: Any, request: Any = None) -> Principal | None:
        """Whom the request is for: the credential an entry point set on it, else the token in the call's
        `authorization` metadata, else the socket's owner (the node's admin)."""
        if request is not None and request.HasField("credential"):
            return self._auth.requester(request.credential)
        token = bearer(dict(context.invocation_metadata() or ()).get("authorization"))
        return ADMIN if token is None else self._auth.principal(token)

    def _token(self, context: Any, request: Any) -> str | None:
        """The bearer token the request is made with, if any (see `_caller`)."""
        if request.HasField("credential"):
            return request.credential.token or None
        return bearer(dict(context.invocation_metadata() or ()).get("authorization"))

    def _check(self, context: Any, resources: str | list[str], scope: str | None, request: Any) -> None:
        principal = self._caller(context, request)
        for resource in [resources] if isinstance(resources, str) else dict.fromkeys(resources):
            self._auth.check(principal, resource)
            if resource.startswith(_NODE_DBS):
                # The node's own databases hold what config and stream rules guard: raw, only for admins.
                self._auth.require_scope(principal, ADMIN_SCOPE)
        if scope is not None:
            self._auth.require_scope(principal, scope)

    async def _guard(self, context: Any, resources: str | list[str], call: Callable[[], Awaitable[_T]],
                     scope: str | None = None, credential: Any = None) -> _T:
        """`guard` of a call the caller must be allowed (`resources`, and `scope` if given) to make."""
        async def checked() -> _T:
            self._check(context, resources, scope, credential)
            return await call()
        return await guard(self.node.log, context, checked)

    def _guard_stream(self, context: Any, resources: str | list[str], stream: Callable[[], AsyncIterator[_T]],
                      credential: Any = None) -> AsyncIterator[_T]:
        """`guard_stream` of a stream the caller must be allowed to open, and still be allowed to read
        at each item: an expired or revoked token, or a rule added since, ends it (401 or 403)."""
        async def checked() -> AsyncIterator[_T]:
            self._check(context, resources, None, credential)
            items = stream()
            try:
                async for item in items:
                    self._check(context, resources, None, credential)
                    yield item
            finally:
                closing = getattr(items, "aclose", None)
                if closing is not None:
                    await closing()
        return guard_stream(self.node.log, context, checked)

    async def _routed(self, request: node_pb2.CallRequest, context: Any) -> node_pb2.CallReply:
        self._auth.admit_call(request, self._caller(context, request))
        return await self._capabilities.router.call(request, context.time_remaining())

    def _routed_stream(self, request: node_pb2.CallRequest, context: Any) -> AsyncIterator[node_pb2.CallReply]:
        self._auth.admit_call(request, self._caller(context, request))
        return self._capabilities.router.call_stream(request, context.time_remaining())

    # ---- auth -----------------------------------------------------------------------------------
    # Challenges and tokens need no rule (the signature is the proof); records carry their own authority.

    async def AuthChallenge(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(node_pb2.AuthChallengeReply(
            nonce=self._auth.challenge(), node_id=self.node.node_key.public.id, mesh_id=self.node.mesh_root.id)))

    async def AuthToken(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._auth.token_reply(request)))

    async def AuthSubmit(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._auth.submit_reply(request))

    async def AuthRecords(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("auth"), lambda: now(self._auth.records_reply(request)))

    async def WhoAmI(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: now(self._whoami(context)))

    async def Authorize(self, request: Any, context: Any) -> Any:
        # For the credential in the request, as Call takes one: the answer tells no more than trying the
        # resource with that credential would.
        return await self._guard(context, request.resource, lambda: now(node_pb2.AuthorizeReply()),
                                 credential=request)

    def _whoami(self, context: Any) -> node_pb2.WhoAmIReply:
        principal = self._caller(context)
        assert principal is not None
        return node_pb2.WhoAmIReply(
            account_id=principal.account.id if principal.account is not None else "", name=principal.name,
            scopes=sorted(principal.scopes), node_id=self.node.node_key.public.id, mesh_id=self.node.mesh_root.id)

    # ---- the node -------------------------------------------------------------------------------

    async def Status(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("status"), lambda: now(self.node.status()))

    async def Members(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("members"), lambda: now(self.node.members()))

    async def Invite(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("invite"), lambda: now(self.node.invite(request.ttl_s)))

    async def Join(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("join"), lambda: self.node.join_mesh(request.address, request.token))

    async def Leave(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("leave"), lambda: now(self._leave()))

    def _leave(self) -> node_pb2.LeaveReply:
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
        return await self._guard(context, _kv(request), lambda: self._kv.put(request))

    async def KvPutMany(self, request: Any, context: Any) -> Any:
        return await self._guard(context, [_kv(put) for put in request.puts], lambda: self._kv.put_many(request))

    async def KvGet(self, request: Any, context: Any) -> Any:
        return await self._guard(context, _kv(request), lambda: now(self._kv.get(request)))

    async def KvDelete(self, request: Any, context: Any) -> Any:
        return await self._guard(context, _kv(request), lambda: self._kv.delete(request))

    async def KvList(self, request: Any, context: Any) -> Any:
        return await self._guard(context, _kv(request), lambda: now(self._kv.list(request)))

    async def KvWatch(self, request: Any, context: Any) -> Any:
        async for change in self._guard_stream(context, _kv(request), lambda: self._kv.watch(request, context)):
            yield change

    async def KvDatabases(self, request: Any, context: Any) -> Any:
        return await self._guard(context, "kv:*:*", lambda: now(self._kv.databases()))

    async def KvTables(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"kv:{request.db or DEFAULT_NAME}:*", lambda: now(self._kv.tables(request)))

    # A path covers the leaves under it and may replace leaves above it: each leaf is checked too
    # (`config:KEY`), so a rule on a leaf holds whatever path a request names.

    def _may(self, context: Any) -> Callable[[str], bool]:
        principal, state = self._caller(context), self._auth.state
        return lambda key: state.authorize(principal, f"config:{key}").allowed

    async def ConfigGet(self, request: Any, context: Any) -> Any:
        resource = f"config:{request.path}"
        return await self._guard(context, resource, lambda: now(self._config.get(request, self._may(context))),
                                 scope=SECRETS_SCOPE if request.reveal_secrets else None)

    async def ConfigSet(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"config:{request.path}",
                                 lambda: self._config.set(request, self._may(context)))

    async def ConfigDelete(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"config:{request.path}",
                                 lambda: self._config.delete(request, self._may(context)))

    async def ConfigWatch(self, request: Any, context: Any) -> Any:
        async for change in self._guard_stream(context, f"config:{request.path}",
                                               lambda: self._config.watch(request, context, self._may(context))):
            yield change

    async def Run(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("run"), lambda: self.node.supervisor.run(request))

    async def Processes(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("run"), lambda: now(self.node.supervisor.processes()))

    async def Logs(self, request: Any, context: Any) -> Any:
        async for line in self._guard_stream(context, self._node_op("logs"),
                                             lambda: self.node.supervisor.logs(request, context)):
            yield line

    async def Kill(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("kill"), lambda: self.node.supervisor.kill(request))

    @property
    def _capabilities(self) -> Capabilities:
        if self.node.capabilities is None:
            raise Unavailable("the node is starting")
        return self.node.capabilities

    async def Register(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("register"), lambda: now(self._capabilities.registry.register(request)))

    async def Heartbeat(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("register"), lambda: now(self._capabilities.registry.heartbeat(request.id)))

    async def Deregister(self, request: Any, context: Any) -> Any:
        return await self._guard(context, self._node_op("register"), lambda: now(self._capabilities.registry.deregister(request.id)))

    async def Services(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"service:{request.service or '*'}", lambda: now(
            node_pb2.ServicesReply(instances=self._capabilities.registry.instances(request.service))))

    async def Describe(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"service:{request.service}", lambda: self._capabilities.router.describe(request.service))

    async def Call(self, request: Any, context: Any) -> Any:
        return await guard(self.node.log, context, lambda: self._routed(request, context))

    async def CallLink(self, request_iterator: Any, context: Any) -> Any:
        await serve_link_of(self.node.log, request_iterator, context, self.node.local_call)

    async def CallStream(self, request: Any, context: Any) -> Any:
        async for reply in guard_stream(self.node.log, context, lambda: self._routed_stream(request, context)):
            yield reply

    async def Publish(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"topic:{request.topic}", lambda: now(self._capabilities.pubsub.publish(request)),
                                 credential=request)

    async def PublishMany(self, request: Any, context: Any) -> Any:
        topics = [f"topic:{message.topic}" for message in request.messages]
        return await self._guard(context, topics, lambda: self._capabilities.pubsub.publish_many_in_order(request))

    async def StreamPublish(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"stream:{request.topic}", lambda: self._capabilities.streams.publish(request))

    async def StreamPublishMany(self, request: Any, context: Any) -> Any:
        topics = [f"stream:{event.topic}" for event in request.events]
        return await self._guard(context, topics, lambda: self._capabilities.streams.publish_many(request))

    async def StreamInfo(self, request: Any, context: Any) -> Any:
        return await self._guard(context, f"stream:{request.topic}", lambda: now(self._capabilities.streams.info(request.topic)))

    async def StreamConsume(self, request_iterator: Any, context: Any) -> Any:
        # The stream's headers go out once the consumer is registered: clients wait for them.
        batches = lambda: self._capabilities.consumers.consume(
            request_iterator, registered=lambda: context.send_initial_metadata(()),
            allowed=lambda topic: self._check(context, f"stream:{topic}", None, None))
        async for batch in guard_stream(self.node.log, context, batches):
            yield batch

    async def Subscribe(self, request: Any, context: Any) -> Any:
        # The stream's headers go out once the subscription is registered: clients wait for them.
        def batches() -> AsyncIterator[node_pb2.PubsubBatch]:
            principal = self._caller(context, request)
            self._auth.check(principal, f"topic:{request.topic}")
            subscription = self._capabilities.pubsub.subscribe(request.topic, request.group, request.queue_limit,
                                                               registered=lambda: context.send_initial_metadata(()))
            return self._auth.delivered(self._token(context, request), principal, request.topic, subscription)

        async for batch in guard_stream(self.node.log, context, batches):
            yield batch
