"""The capabilities a node runs on the mesh's owned state: the service registry and the router
(`calls/`), pubsub (`pubsub/`), event streams and their consumer groups (`streams/`), and the HTTP gateway
it may serve in-process. The key-value store (which the core feeds directly) and the supervisor belong
to the agent itself.

Built once the node knows its id and address; each part hears the owned-state changes it files
(`on_owned`), republishes its own after the core is replaced (`rebuilt`), reports its counters and closes.
The gateway (`--gateway HOST:PORT`) starts after the local API is up and stops first, so requests in
flight still find the router; it (aiohttp) is imported only by a node that serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ..identity.keyring import Keyring
from ..mesh import OwnedStateChanged
from .api.errors import InvalidArgument
from .calls.registry import Registry
from .calls.router import Router
from .kv.service import KvService
from .log import Logger
from .pubsub.service import Pubsub
from .runtime import Runtime
from .streams.consumers import Consumers
from .streams.eventlog import EventLog
from .streams.service import Streams
from .transport import NetTransport, format_address

if TYPE_CHECKING:
    from aiohttp import web

    from .auth.service import Auth

__all__ = ["Capabilities", "Capability"]


class Capability(Protocol):
    """What the agent asks of a capability that lives on the mesh's owned state."""

    def on_owned(self, event: OwnedStateChanged) -> None:
        """A remote node's owned entry changed (the capability files the keys it owns)."""

    def rebuilt(self) -> None:
        """The core was replaced (the node joined another mesh): republish what this node owns."""

    def counters(self) -> dict[str, int]:
        """Its counters for `micro node status`, named `<capability>.<counter>`."""

    async def close(self) -> None:
        """Stop; the node is stopping."""


class Capabilities:
    """Registry, router, pubsub, streams and consumer groups of one node (for its whole life: a join to
    another mesh keeps them). `eventlog` is the node's open stream log (the node closes it); consumer groups commit their
    offsets through `kv`."""

    def __init__(self, runtime: Runtime, transport: NetTransport, node_id: str, address: str,
                 keyring: Callable[[], Keyring], logger: Logger, eventlog: EventLog, kv: KvService,
                 instances: Path) -> None:
        self.registry = Registry(runtime, node_id, address, instances)
        self.router = Router(self.registry, transport, keyring)
        self.pubsub = Pubsub(runtime, transport, node_id, keyring, logger)
        self.streams = Streams(runtime, transport, keyring, node_id, logger, eventlog)
        self.consumers = Consumers(runtime, kv, self.streams, node_id, logger)
        # In the order they close: consumers before the streams they read.
        self._parts: tuple[Capability, ...] = (self.registry, self.pubsub, self.consumers, self.streams)
        self._log = logger
        self._gateway: web.AppRunner | None = None

    async def start_gateway(self, host: str, port: int, auth: Callable[[], Auth | None],
                            cors_origins: tuple[str, ...] = ()) -> str:
        """Serve the HTTP gateway on host:port, its answers readable by pages of `cors_origins`; its URL
        (with the port bound, for port 0)."""
        from ..gateway import serve
        from .gateway_backend import NodeBackend

        try:
            self._gateway = await serve(NodeBackend(self, self._log, auth), host, port, cors_origins=cors_origins)
        except ValueError as exc:
            raise InvalidArgument(f"--cors-origin: {exc}") from None
        except OSError as exc:
            raise InvalidArgument(f"cannot serve the gateway on {format_address(host, port)}: "
                                  f"{exc.strerror or exc}; choose another --gateway port") from None
        bound_host, bound_port = self._gateway.addresses[0][:2]
        return f"http://{format_address(bound_host, bound_port)}"

    def counters(self) -> dict[str, int]:
        """For `micro node status`: every part's counters and the router's."""
        counts = self.router.counters()
        for part in self._parts:
            counts.update(part.counters())
        return counts

    def on_owned(self, event: OwnedStateChanged) -> None:
        for part in self._parts:
            part.on_owned(event)

    def rebuilt(self) -> None:
        for part in self._parts:
            part.rebuilt()

    async def close(self) -> None:
        if self._gateway is not None:
            await self._gateway.cleanup()
        for part in self._parts:
            await part.close()
        await self.router.close()
