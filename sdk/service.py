"""A service: its endpoints, the gRPC server of one instance, and its life next to a node.

    service = Service("helloworld", version="1.0.0")

    class Helloworld:
        async def call(self, request: CallRequest, ctx: Context) -> CallReply:   # "Helloworld.Call"
            return {"msg": "Hello " + request["name"]}

    service.handle(Helloworld())

    @service.endpoint("Greeter.Hello")
    async def hello(request: dict) -> dict: ...

    @service.endpoint("Greeter.Reset", scopes=["greeter.admin"])   # only accounts holding the scope
    async def reset(request: dict, ctx: Context) -> dict: ...      # ctx.account: who calls

    @service.subscribe("orders.*.created", group="billing")   # pubsub: runs for each message
    async def created(message: pubsub.Message) -> None: ...

    @service.consume("orders.created", group="billing")       # event stream: at least once
    async def bill(event: events.Event) -> None: ...          # returns: acked; raises: nacked (comes again)

    service.add_servicer(greeter_pb2_grpc.add_GreeterServicer_to_server, Greeter())   # protobuf
    service.run()

`run()` starts the instance's `grpc.aio` server, registers it with the node of the data dir (argument,
else MICRO_DATA_DIR, else ~/.micro), heartbeats, and on SIGTERM or SIGINT deregisters, stops the server
with a short grace, and returns. `start()` and `stop()` are the first and last steps alone: a test can
serve endpoints without a node (in a data dir of its own).

Who may call an endpoint is first the mesh's rules' decision (`micro auth rule create`), checked by the
node that admits the call; the node then names the caller's account to the instance (`ctx.account`).
An endpoint can require scopes besides: `scopes=[...]` on `endpoint`, `handle` or `add_servicer`, or
`@requires(...)` on one function or method. A call whose account lacks one is refused by the instance,
403 with Micro's error body (401 without an account, as on a public call); `admin` holds every scope.

The server listens on no TCP port: only on a unix socket in the data dir's `instances/` (mode 0700, made
by the node, or by `start` if missing), so nothing but the node, and its user, reaches the instance.
The instance therefore runs as the node's user, as `micro run` starts it. The socket is removed on stop.

Each service has its own KV database, named after it (`service.kv`), reads the mesh's configuration
through `service.config`, publishes through `service.pubsub` and `service.events`; all talk to the same
node and are closed when the service stops. Its subscriptions and consumers are registered by `start()`
(which then needs the node) and end with `stop()`; a subscription handler that raises is logged and the
subscription goes on. A consumer's handler runs for one event at a time: its return acks the event, an
exception is logged and nacks it (it comes again, up to the consumer's `max_retries`); a consumer whose
stream breaks (the node restarted) consumes again after a pause, from the group's committed position.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import re
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.descriptor import ServiceDescriptor

from ..node.api.calllink import Handler as LinkHandler
from ..node.api.calllink import Status
from ..node.api.datadir import INSTANCE_TOKEN_BYTES, MAX_SOCKET_PATH
from ..node.api.errors import NodeError
from ..node.api.instances import UNIX
from ..node.api.micro_errors import of_status
from ..node.api.proto import node_pb2
from ..node.api.socketlink import LinkServer, remove_stale
from .channel import NodeChannel
from .config import Config
from .errors import MicroError, unavailable
from .events import Consumer, Event, Events
from .handlers import Handler, camel_case, json_handler, method_handler, with_scopes
from .kv import Store
from .link import LINK_SERVICE, link_calls, link_handler
from .protobuf import AddServicer, descriptor_set, service_descriptor, servicer_handlers
from .pubsub import Message, Pubsub, Subscription
from .registration import Registration

__all__ = ["Service"]

logger = logging.getLogger("micro.sdk.service")

_F = TypeVar("_F", bound=Callable[..., Any])
_MessageHandler = Callable[[Message], Awaitable[Any]]
_EventHandler = Callable[[Event], Awaitable[Any]]

# The KV database name rules: the service's name is its database's name.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_ANY_HOST = {"", "0.0.0.0", "::", "[::]"}
_STOP_GRACE = 2.0
_RECONSUME_S = (0.5, 5.0)
_MAX_LINK_FRAME = 64 << 20
"""The largest frame the node may send on the link socket: a call's request is far smaller."""
"""A consumer whose stream broke consumes again after the first pause, doubled each time up to the second."""


class Service:
    """One service and, once started, one instance of it."""

    def __init__(self, name: str, version: str = "latest", *, address: str | None = None,
                 data_dir: str | os.PathLike[str] | None = None, metadata: Mapping[str, str] | None = None,
                 ttl_s: float = 10.0, heartbeat_s: float | None = None) -> None:
        """`metadata` is registered with the instance; the node drops the instance `ttl_s` after its last
        heartbeat, and heartbeats go at the node's asked interval or every `heartbeat_s`, whichever is
        shorter. The instance serves on a unix socket in the data dir unless `address` names a TCP
        host:port instead (port 0: any free port): anyone who reaches that port calls the instance
        directly, skipping its node and whatever the node checks, so it is for a user who wants exactly
        that, never the default."""
        if not _NAME.match(name):
            raise ValueError(f"a service name is 1-64 letters, digits, '_', '.' or '-', not {name!r}")
        self.name = name
        self.version = version
        self.metadata = dict(metadata or {})
        self.ttl_s = ttl_s
        self.heartbeat_s = heartbeat_s
        self._bind = address
        self._node = NodeChannel(data_dir)
        self.data_dir = self._node.data_dir
        self._handlers: dict[str, Handler] = {}
        self._services: list[ServiceDescriptor] = []
        self._server: grpc.aio.Server | None = None
        self._link_server: LinkServer | None = None
        self._stopping = asyncio.Event()
        """Set by `stop`: call links end once their calls are answered (a link lasts as long as its caller)."""
        self._address = ""
        self._kv: Store | None = None
        self._config: Config | None = None
        self._pubsub: Pubsub | None = None
        self._subscribers: list[tuple[str, str | None, _MessageHandler]] = []
        self._events: Events | None = None
        self._consumers: list[tuple[Callable[[], Consumer], _EventHandler]] = []
        self._listeners: list[asyncio.Task[None]] = []
        self._consuming: dict[asyncio.Task[None], Consumer] = {}  # each consumer task's consumer now
        self._registration: Registration | None = None

    # ---- endpoints ------------------------------------------------------------------------------------

    def handle(self, handler: object, name: str | None = None, scopes: Iterable[str] = ()) -> None:
        """Every public async method of `handler` as an endpoint `{name}.{Method}`; `name` defaults to
        the handler's class name and `say_hello` becomes `SayHello`. Each endpoint requires `scopes` of
        its caller's account, and a method marked `@requires(...)` those too."""
        prefix = name or type(handler).__name__
        methods = [(attr, getattr(handler, attr)) for attr in dir(handler) if not attr.startswith("_")]
        endpoints = [json_handler(f"{prefix}.{camel_case(attr)}", method) for attr, method in methods
                     if inspect.iscoroutinefunction(method) or inspect.isasyncgenfunction(method)]
        if not endpoints:
            raise TypeError(f"{prefix} has no public async method to serve")
        for endpoint in endpoints:
            self._add(endpoint, scopes)

    def endpoint(self, name: str, scopes: Iterable[str] = ()) -> Callable[[_F], _F]:
        """A decorator serving an async function (or async generator) as the endpoint `name`, which
        requires `scopes` of its caller's account."""
        def register(function: _F) -> _F:
            self._add(json_handler(name, function), scopes)
            return function

        return register

    def subscribe(self, topic: str, group: str | None = None) -> Callable[[_F], _F]:
        """A decorator running an async function for each pubsub message on `topic` while the service
        runs; with `group`, each message reaches one subscriber of the group mesh-wide."""
        def register(function: _F) -> _F:
            if self._server is not None:
                raise RuntimeError("subscriptions are added before the service starts")
            self._subscribers.append((topic, group, function))
            return function

        return register

    def consume(self, topic: str, group: str | None = None, **options: Any) -> Callable[[_F], _F]:
        """A decorator running an async function for each event of `topic` while the service runs, one at
        a time, in consumer group `group` (each partition of the topic goes to one consumer of the group
        mesh-wide). Its return acks the event, an exception nacks it. `options` are those of
        `events.Events.consume` (`from_start`, `ack_wait`, `max_retries`, ...), checked here."""
        self.events.consume(topic, group, **options)  # a BadRequest now for bad options

        def register(function: _F) -> _F:
            if self._server is not None:
                raise RuntimeError("consumers are added before the service starts")
            self._consumers.append((lambda: self.events.consume(topic, group, **options), function))
            return function

        return register

    def add_servicer(self, service: AddServicer | ServiceDescriptor, servicer: Any, scopes: Iterable[str] = ()) -> None:
        """Serve a protobuf servicer: `service` is the generated `add_XServicer_to_server` function or the
        service's descriptor. Its descriptors are registered with the node. Each method requires `scopes`
        of its caller's account, and one marked `@requires(...)` those too."""
        descriptor = service_descriptor(service, servicer)
        for handler in servicer_handlers(descriptor, servicer):
            self._add(handler, scopes)
        self._services.append(descriptor)

    def _add(self, handler: Handler, scopes: Iterable[str]) -> None:
        if self._server is not None:
            raise RuntimeError("endpoints are added before the service starts")
        if handler.name in self._handlers:
            raise ValueError(f"{self.name} already has an endpoint {handler.name}")
        self._handlers[handler.name] = with_scopes(handler, scopes)

    @property
    def endpoints(self) -> list[node_pb2.Endpoint]:
        """The endpoints as they are registered with the node."""
        return [handler.to_proto() for handler in self._handlers.values()]

    # ---- the instance ---------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """Where the running instance's gRPC server listens, as a grpc target: `unix:PATH`, or host:port
        with an explicit TCP `address` ("" before `start`)."""
        return self._address

    @property
    def link_socket(self) -> str:
        """The unix socket the running instance serves its call link on ("" when none: it serves on a TCP
        address and its data dir has no `instances/` directory, or it could not listen there)."""
        return str(self._link_server.path) if self._link_server is not None else ""

    @property
    def id(self) -> str:
        """The instance id its node gave it ("" while not registered)."""
        return self._registration.id if self._registration is not None else ""

    async def start(self) -> None:
        """Start the gRPC server serving every endpoint added so far (once: an instance is not restarted)."""
        if self._server is not None:
            raise RuntimeError(f"{self.name} has already started")
        if not self._handlers and not self._subscribers and not self._consumers:
            raise RuntimeError(f"{self.name} has no endpoints to serve, no subscriptions and no consumers")
        by_service: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
        for handler in self._handlers.values():
            grpc_service, method = handler.method[1:].split("/")
            by_service.setdefault(grpc_service, {})[method] = method_handler(handler, self)
        unary = {h.method: h for h in self._handlers.values() if not h.server_streaming}
        calls = link_calls(unary, self)
        by_service.setdefault(LINK_SERVICE, {})["CallLink"] = link_handler(calls, self._stopping)
        server = grpc.aio.server()
        server.add_generic_rpc_handlers(
            tuple(grpc.method_handlers_generic_handler(s, methods) for s, methods in by_service.items()))
        grpc_socket, link_socket = self.data_dir.instance_sockets(secrets.token_hex(INSTANCE_TOKEN_BYTES))
        if self._bind is None:
            self._make_instances()
            self._address = f"{UNIX}{grpc_socket}"
            self._add_port(server, self._address)
        else:
            host = self._bind.rsplit(":", 1)[0]
            port = self._add_port(server, self._bind)
            # The node calls the instance on the same machine: a wildcard bind is reached on loopback.
            self._address = f"{'127.0.0.1' if host in _ANY_HOST else host}:{port}"
        await server.start()
        self._server = server
        self._link_server = await self._serve_link_socket(link_socket, *calls)
        for topic, group, on_message in self._subscribers:
            # Entered here, so a message published once `start` returns reaches the handler.
            messages = await self.pubsub.subscribe(topic, group).__aenter__()
            self._listeners.append(asyncio.get_running_loop().create_task(self._listen(messages, on_message)))
        for make, on_event in self._consumers:
            # Entered here too: the consumer is in its group once `start` returns.
            consumer = await make().__aenter__()
            task = asyncio.get_running_loop().create_task(self._consume(consumer, make, on_event))
            self._consuming[task] = consumer

    def _make_instances(self) -> None:
        """The data dir's `instances/`, made if missing; a MicroError when the data dir's path is too long
        for the sockets, or the directory is missing or not this user's own."""
        try:
            self.data_dir.check_socket_paths()
            self.data_dir.make_instances()
        except NodeError as exc:
            raise of_status(self.name, exc.code, exc.message) from None

    def _add_port(self, server: grpc.aio.Server, target: str) -> int:
        """Add `target` to the server's ports; the port it got (1 for a unix socket)."""
        try:
            return server.add_insecure_port(target)
        except RuntimeError:  # grpc says no more than that (and logs why)
            raise unavailable(self.name, f"{self.name} cannot listen on {target}") from None

    async def _serve_link_socket(self, path: Path, call: LinkHandler, status: Status) -> LinkServer | None:
        """Serve the call link on `path` in the data dir's `instances/` too, when the directory is there
        (always, unless the instance serves on TCP) and this process may listen there; else the node uses
        the gRPC link."""
        if not path.parent.is_dir() or len(os.fsencode(path)) > MAX_SOCKET_PATH:
            return None
        remove_stale(path.parent)  # sockets of instances that were killed: nobody else removes them
        server = LinkServer(path, call, status, _MAX_LINK_FRAME,
                            lambda error: logger.warning("%s: a call link was dropped: %s", self.name, error))
        try:
            await server.start()
        except OSError as exc:
            logger.warning("%s: serving the call link on its gRPC server only: %s", self.name, exc)
            return None
        return server

    async def _listen(self, messages: Subscription, handler: _MessageHandler) -> None:
        try:
            async for message in messages:
                try:
                    await handler(message)
                except Exception:  # one bad message does not end the subscription
                    logger.exception("%s: the handler of %s failed", self.name, message.topic)
        except MicroError as exc:
            logger.error("%s: a subscription ended: %s", self.name, exc)
        finally:
            messages.close()

    async def _consume(self, consumer: Consumer, make: Callable[[], Consumer], handler: _EventHandler) -> None:
        task = asyncio.current_task()
        pause = _RECONSUME_S[0]
        while True:
            try:
                async with consumer:
                    async for event in consumer:
                        pause = _RECONSUME_S[0]
                        try:
                            await handler(event)
                        except Exception:  # the event comes again; the consumer goes on
                            logger.exception("%s: the handler of %s %s:%d failed (attempt %d)", self.name,
                                             event.topic, event.origin, event.offset, event.attempt)
                            await event.nack()
                        else:
                            await event.ack()
            except MicroError as exc:
                logger.error("%s: a consumer's stream ended: %s; consuming again in %gs", self.name, exc, pause)
            if task is None or task not in self._consuming:
                return  # stopping: the stream ended because `stop` finished it
            await asyncio.sleep(pause)
            pause = min(pause * 2, _RECONSUME_S[1])
            consumer = self._consuming[task] = make()

    async def stop(self, grace: float = _STOP_GRACE) -> None:
        """Stop serving (calls in flight get `grace` seconds) and close the connections to the node.
        Consumers finish first: a handler running ends, and the node commits what was acked."""
        consuming, self._consuming = self._consuming, {}
        for consumer in consuming.values():
            await consumer.finish()
        if consuming:
            await asyncio.wait(consuming, timeout=grace)
        for listener in (*self._listeners, *consuming):
            listener.cancel()
        await asyncio.gather(*self._listeners, *consuming, return_exceptions=True)
        self._stopping.set()
        if self._link_server is not None:
            await self._link_server.close(grace)
        if self._server is not None:
            await self._server.stop(grace)  # which removes its unix socket
        for user in (self._kv, self._config, self._pubsub, self._events):
            if user is not None:
                await user.close()
        await self._node.close()

    async def serve(self) -> None:
        """Start, register and heartbeat until SIGTERM or SIGINT, then deregister and stop."""
        await self.start()
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        # A service that only subscribes has nothing to route to: it is not registered (the node refuses
        # a registration with no endpoints).
        registration = Registration(self._node, self._register_request(), self.heartbeat_s) if self._handlers else None
        self._registration = registration
        try:
            await (registration.keep(stopping) if registration is not None else stopping.wait())
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            if registration is not None:
                await registration.deregister()
            await self.stop()

    def run(self) -> None:
        """`serve()` as the program: logs to stderr, and a refused registration exits 1 with one line."""
        if not logging.getLogger().handlers:
            logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        try:
            asyncio.run(self.serve())
        except MicroError as exc:
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(1)

    def _register_request(self) -> node_pb2.RegisterRequest:
        return node_pb2.RegisterRequest(
            service=self.name, version=self.version, address=self._address, endpoints=self.endpoints,
            metadata=self.metadata, descriptor_set=descriptor_set(self._services), ttl_s=self.ttl_s,
            call_link=True, link_socket=self.link_socket,
        )

    # ---- the service's data ---------------------------------------------------------------------------

    @property
    def kv(self) -> Store:
        """The service's own KV database (named after the service), table "default"."""
        if self._kv is None:
            self._kv = Store(db=self.name, data_dir=self.data_dir.path)
        return self._kv

    @property
    def pubsub(self) -> Pubsub:
        """Publishing and subscribing through this service's node."""
        if self._pubsub is None:
            self._pubsub = Pubsub(data_dir=self.data_dir.path)
        return self._pubsub

    @property
    def events(self) -> Events:
        """Publishing and consuming event streams through this service's node."""
        if self._events is None:
            self._events = Events(data_dir=self.data_dir.path)
        return self._events

    @property
    def config(self) -> Config:
        """The mesh's configuration, as this service's node holds it."""
        if self._config is None:
            self._config = Config(data_dir=self.data_dir.path)
        return self._config
