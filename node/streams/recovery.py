"""An origin never hands out an offset twice, even after its log lost events.

A node's log is the only record of its partitions' heads, and that log can lose its newest events
without an error: SQLite drops the frames of a write-ahead log from the first one that fails its
checksum, and a file can come back from an older backup. The replicas still hold those events. An
origin that numbered new events from its shorter log would publish at offsets its replicas hold with
other events, and the publishes acknowledged there would never reach a consumer. So an origin gets its
heads back from the members before it numbers anything:

- **At start** (`Recovery.learn`) every live member is asked which of this node's partitions it holds
  and up to which offset (`Peer.StreamHeads`); what any of them holds beyond this log is copied back
  into it (`Peer.StreamRead`), so that new events are numbered after the highest head. Until every live
  member has answered, `Streams` refuses publishes (UNAVAILABLE). A node that starts alone has nobody
  to ask; one that rejoins a mesh it remembers waits for a first member, however long that takes.
- **Before each batch** `Streams` compares its head with the heads the partition's holders gossip
  (`PartitionView`): a holder ahead (one that was away at start) is caught up from first (`catch_up`).
- A copy back reads from this log's own head, so the event held there is compared with the holder's.
  When they differ the two logs diverged (this node numbered events after losing some while no member
  that held them was reachable): nothing is copied, the node logs `streams.diverged`, and the
  partition's publishes fail with FAILED_PRECONDITION (`Diverged`) while that holder is reachable.

Replicas refuse an event at an offset they hold with another event (`eventlog.Conflict`), so whatever
this misses, no publish at a reused offset is acknowledged.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Protocol, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from ...identity.errors import IdentityError
from ..api.errors import InvalidArgument, NodeError
from ..api.proto import node_pb2
from ..api.subjects import check_topic
from ..log import Logger
from .eventlog import Conflict, EventLog
from .partitions import PartitionView

__all__ = ["LEARN_RETRY_S", "Ask", "Diverged", "Recovery"]

LEARN_RETRY_S = 0.5
"""How often a start that has not heard from every live member asks again."""
_COPY_EVENTS = 2000
"""Events asked for in one read of a copy back (each read also stops at `eventlog.MAX_READ_BYTES`)."""
_M = TypeVar("_M", bound=Message)


class Ask(Protocol):
    """A sealed request to the peer at `address` (`Peer.<method>`), answered with a sealed `kind`;
    raises grpc.RpcError, IdentityError or DecodeError when it fails."""

    async def __call__(self, address: str, method: str, request: Message, kind: type[_M]) -> _M: ...


class Diverged(NodeError):
    """This node's partition and a holder's copy hold different events at one offset."""

    code = "FAILED_PRECONDITION"

    def __init__(self, topic: str, holder: str, offset: int) -> None:
        super().__init__(f"this node's partition of {topic} and the copy {holder} holds differ at offset {offset} "
                         "(this node numbered events after its log lost some); its publishes are refused so "
                         "that no offset is acknowledged twice (a refused batch stays in this node's log)")


class Recovery:
    """Learning and catching up the heads of this node's own partitions from the members' copies."""

    def __init__(self, node_id: str, log: EventLog, view: PartitionView, ask: Ask, logger: Logger,
                 stats: collections.Counter[str]) -> None:
        self._node_id = node_id
        self._log = log
        self._view = view
        self._ask = ask
        self._logger = logger
        self._stats = stats

    async def learn(self, wait_for_peers: bool) -> None:
        """Return once every live member has told which of this node's partitions it holds, and what
        they hold beyond this log is in it; with no live member, at once unless `wait_for_peers`."""
        while True:
            members = self._view.alive()
            if not members and not wait_for_peers:
                return
            try:
                if members and await self._learn_from(members):
                    return
            except NodeError as exc:  # this log failed (a full disk, say): publishes wait, and it tries again
                self._logger.error("streams.heads_failed_here", error=exc.message)
            await asyncio.sleep(LEARN_RETRY_S)

    async def _learn_from(self, members: dict[str, str]) -> bool:
        """Ask each of `members` (id -> address) and catch up; whether all answered and were caught up."""
        request = node_pb2.StreamHeadsRequest(origin=self._node_id)
        replies = await asyncio.gather(*(self._heads(holder, address, request) for holder, address in members.items()))
        held: dict[str, dict[str, tuple[int, int]]] = {}
        for holder, reply in zip(members, replies, strict=True):
            if reply is None:
                return False
            for part in reply.heads:
                try:
                    held.setdefault(check_topic(part.topic), {})[holder] = (part.first, part.head)
                except InvalidArgument:
                    self._stats["dropped_records"] += 1
        for topic, holders in sorted(held.items()):
            try:
                if not await self.catch_up(topic, holders):
                    return False
            except Diverged:
                pass  # logged; its publishes fail while the copy that differs is reachable
        self._logger.info("streams.heads_learned", members=len(members), partitions=len(held))
        return True

    async def _heads(self, holder: str, address: str, request: node_pb2.StreamHeadsRequest
                     ) -> node_pb2.StreamHeads | None:
        try:
            return await self._ask(address, "StreamHeads", request, node_pb2.StreamHeads)
        except (grpc.RpcError, IdentityError, DecodeError) as exc:
            self._logger.debug("streams.heads_failed", holder=holder, error=_reason(exc))
            return None

    async def catch_up(self, topic: str, holders: dict[str, tuple[int, int]]) -> bool:
        """Copy into this log what the live ones of `holders` (id -> (first, head)) hold of this node's
        partition of `topic` beyond it, highest head first; whether this log now holds their highest
        head. Raises `Diverged` when a holder's copy differs from this log."""
        origin = self._node_id
        alive = self._view.alive()
        sources = sorted((h for h in holders if h in alive), key=lambda h: -holders[h][1])
        target = max((holders[h][1] for h in sources), default=0)
        for holder in sources:
            if self._log.head(topic, origin) >= target:
                break
            try:
                await self._copy_back(topic, holder, alive[holder], holders[holder][1])
            except (grpc.RpcError, IdentityError, DecodeError) as exc:
                self._logger.debug("streams.copy_back_failed", holder=holder, topic=topic, error=_reason(exc))
        return self._log.head(topic, origin) >= target

    async def _copy_back(self, topic: str, holder: str, address: str, until: int) -> None:
        """Append to this log the holder's events of this node's partition up to `until`."""
        origin = self._node_id
        while (head := self._log.head(topic, origin)) < until:
            # Read from this log's own head: the log compares its event there with the holder's.
            request = node_pb2.StreamRead(topic=topic, origin=origin, from_offset=max(head, 1), limit=_COPY_EVENTS)
            reply = await self._ask(address, "StreamRead", request, node_pb2.StreamEvents)
            events = list(reply.events)
            if not events and reply.first > head + 1:
                # The holder pruned the partition past this log's head: it starts again after that.
                await self._log.append(topic, origin, [], reply.first)
                self._view.moved(topic, origin)
                continue
            if not events or events[-1].offset <= head:
                return
            for event in events:  # stored as this node's own events are, without topic and origin
                event.ClearField("topic")
                event.ClearField("origin")
            # Retained there from a later offset than this log's head: what came between is gone.
            since = reply.first if reply.first > head + 1 and events[0].offset == reply.first else 0
            try:
                after = await self._log.append(topic, origin, events, since)
            except Conflict as exc:
                self._stats["diverged"] += 1
                self._logger.error("streams.diverged", topic=topic, holder=holder, offset=exc.offset)
                raise Diverged(topic, holder, exc.offset) from None
            if after <= head:
                return
            self._stats["recovered"] += after - head
            self._view.moved(topic, origin)


def _reason(exc: Exception) -> str:
    reason = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
    return reason or repr(exc)
