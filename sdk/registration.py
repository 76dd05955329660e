"""Keeping a running instance registered with its node: Register, then Heartbeat, then Deregister.

The node drops an instance whose heartbeats stop for its TTL. `Registration.keep` registers, then
heartbeats at the interval the node asks for (or the service's own `heartbeat_s` if shorter) until told
to stop. A heartbeat answered NOT_FOUND means the node forgot the instance (it restarted, or the TTL
lapsed while this process was stalled): it registers again at once. Any other failed heartbeat, and a
registration that fails because the node is down or slow (UNAVAILABLE, DEADLINE_EXCEEDED), is retried
with exponential backoff, so a service outlives a restart of its node. A registration the node refuses
for another reason (a bad name, a bad endpoint) is a mistake in the service and is raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math

from ..node.api.proto import node_pb2
from .channel import NodeChannel
from .errors import MicroError, NotFound, Timeout, Unavailable

__all__ = ["Registration"]

_log = logging.getLogger("micro.sdk")

_FIRST_BACKOFF = 0.2
_MAX_BACKOFF = 5.0
# Used when the node's reply names no interval: well inside its default 10 s TTL.
_DEFAULT_HEARTBEAT = 3.0


class Registration:
    """One instance's registration with its node."""

    def __init__(self, node: NodeChannel, request: node_pb2.RegisterRequest, heartbeat_s: float | None) -> None:
        self._node = node
        self._request = request
        self._heartbeat_s = heartbeat_s
        self.id = ""
        """The instance id the node gave; "" while not registered."""
        self.interval = _DEFAULT_HEARTBEAT

    async def keep(self, stopping: asyncio.Event) -> None:
        """Stay registered until `stopping` is set; raises the node's refusal of the registration."""
        backoff = _FIRST_BACKOFF
        while not stopping.is_set():
            try:
                wait, backoff = await self._step(), _FIRST_BACKOFF
            except MicroError as exc:
                if not self.id and not isinstance(exc, (Unavailable, Timeout)):
                    raise
                _log.warning("%s: %s; retrying in %.1fs", self._request.service, exc, backoff)
                wait, backoff = backoff, min(backoff * 2, _MAX_BACKOFF)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), wait)

    async def _step(self) -> float:
        """Register, or heartbeat once; the seconds to wait before the next step."""
        if not self.id:
            await self._register()
            return self.interval
        try:
            await self._node.call(self._node.stub.Heartbeat, node_pb2.HeartbeatRequest(id=self.id))
        except NotFound:
            self.id = ""  # forgotten by the node: register again at once
            return 0.0
        return self.interval

    async def _register(self) -> None:
        reply = await self._node.call(self._node.stub.Register, self._request)
        self.id = reply.id
        self.interval = min(reply.heartbeat_s or _DEFAULT_HEARTBEAT, self._heartbeat_s or math.inf)
        _log.info("%s: registered as %s at %s", self._request.service, self.id, self._request.address)

    async def deregister(self) -> None:
        """Leave the registry now rather than at the end of the TTL; a node that is gone is not an error."""
        if not self.id:
            return
        instance, self.id = self.id, ""
        with contextlib.suppress(MicroError):
            await self._node.call(self._node.stub.Deregister, node_pb2.DeregisterRequest(id=instance))
        _log.info("%s: deregistered %s", self._request.service, instance)
