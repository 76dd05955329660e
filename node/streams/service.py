"""Event streams in the node, at least once (like JetStream): each node's log of each topic is one
partition, copied to replicas before a publish is acknowledged, and readable from any node.

**Publish.** `publish` queues the event on the topic's outbox here; one task per topic drains it in
batches: it numbers the batch on from this node's head, appends it to this node's log (one fsync for
the batch), then copies it to k = min(replicas, live members - 1) peers with `Peer.StreamReplicate`,
and answers every publisher of the batch once k peers hold it. The peers are the live members ranked
by rendezvous hashing of (topic, origin), those holding a copy already first (`replicas.copy_plan`), so
they stay the same while the membership does and a node joining takes over no partition; one that fails
is replaced by the next in rank. A replica whose head is behind the batch (it was down, or is
new to the partition) is first backfilled from this log. When fewer than k peers acknowledge within
`ack_timeout_s`, the batch's publishers get UNAVAILABLE: the events stay in this log and the
maintenance task copies them later; it also copies every partition again when the membership
changed (a replica back from the dead, or a new one in a lost one's place, is backfilled). While one batch is being copied the next one queues up, so
concurrent publishers share fsyncs and round trips.

**Replicas.** `Peer.StreamReplicate` appends the events to this node's copy of the partition (the log
refuses a gap and answers its head, from which the origin backfills). Each copy names the
`published_at` of the origin's event just before its events: a replica that holds another event there,
or at one of their offsets, writes nothing and answers the offset (`streams.conflicts_refused`), and
the origin's publish fails (FAILED_PRECONDITION) instead of being acknowledged with events that
consumers reading the replica would never see.

**Heads after a start.** A restarted origin may have lost its newest events with its log's file. It
numbers nothing before it has learned its partitions' heads back from the members' copies
(`recovery.py`): `learn_heads` asks every live member (`Peer.StreamHeads`, served by
`serve_heads`), copies back what they hold beyond this log, and refuses publishes (UNAVAILABLE) until
then; and before each batch a holder that gossips a higher head than this log's is caught up from.

**Discovery and reads.** `partitions.PartitionView` keeps who holds what, mesh-wide, from node-owned
entries. A read is served from this node's log when it holds what is wanted, else from the origin when
it is alive, else from the replica with the highest head (`Peer.StreamRead`; the choice is
`replicas.reads_here` and `replicas.read_sources`).

**Retention.** The maintenance task prunes every partition held here by age and size
(`max_age_s`, `max_bytes`) and republishes the partitions' entries.

API for the consumer side (names are stable):

- `await streams.read(topic, origin, from_offset, limit, since=0.0) -> StreamEvents`: events of one
  partition in order from `from_offset` (or, when it is 0, from the first event published at or after
  `since`; with both 0, from the first retained), at most `limit` of them and `eventlog.MAX_READ_BYTES`;
  `first` and `head` are those of the node that answered. Raises Unavailable when no holder answers.
- `streams.partitions(topic) -> list[PartitionInfo]`: every partition of the topic known mesh-wide
  (origin, first, head, holders, origin_alive), by origin.
- `streams.watch_heads(callback) -> unwatch`: `callback(topic, origin, head)` on the event loop when a
  partition's highest known head moves (at once for partitions held here, within a gossip round for
  others).
- `streams.group_info`: set it to a function `topic -> list[StreamGroup]`; `info` (Node.StreamInfo)
  fills the reply's groups with what it returns.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable
from typing import TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from ...identity.errors import IdentityError
from ...identity.keyring import Keyring
from ...mesh import OwnedStateChanged
from ..api.errors import InvalidArgument, NodeError, Unavailable, refusal
from ..api.proto import node_pb2, node_pb2_grpc
from ..api.subjects import check_topic
from ..frames import seal, unseal
from ..log import Logger
from ..pubsub.service import check_message
from ..runtime import Runtime
from ..transport import NetTransport
from .eventlog import Conflict, EventLog
from .partitions import HeadWatcher, PartitionInfo, PartitionView
from .recovery import Diverged, Recovery
from .replicas import copy_plan, read_sources, reads_here

__all__ = ["ACK_TIMEOUT_S", "DEFAULT_MAX_AGE_S", "DEFAULT_MAX_BYTES", "MAX_READ_LIMIT", "Streams"]

DEFAULT_MAX_AGE_S = 7 * 24 * 3600.0
DEFAULT_MAX_BYTES = 1 << 30
"""Retention per partition: events older than this, or beyond this many bytes (oldest first), go."""
ACK_TIMEOUT_S = 3.0
"""How long a batch waits for its replicas before its publishers get UNAVAILABLE."""
PRUNE_INTERVAL_S = 60.0
REPAIR_INTERVAL_S = 1.0
"""How often partitions whose replicas fell behind are copied again."""
MAX_READ_LIMIT = 10_000
_M = TypeVar("_M", bound=Message)
_Stored = tuple[int, int]
"""A publish's answer while in flight: (offset in this node's partition, replicas that hold it); the
reply messages are built from it once, by the RPC that answers (thousands per batch)."""
_Pending = tuple[node_pb2.StreamPublishRequest, "_Answers", int]
"""A publish waiting in an outbox: the request, and where (and at which index) its answer goes."""
_BATCH_EVENTS = 2000
_BATCH_BYTES = 2 << 20
"""One batch (one fsync, one StreamReplicate) at most; one event always fits."""


class _Answers:
    """The answers of one publishing RPC (one event, or a `StreamPublishMany`'s), each filled in as its
    event is stored and replicated or refused, and one future set when the last is in: not a future, a
    callback and a turn of the loop per event (a batch holds thousands)."""

    __slots__ = ("done", "left", "results")

    def __init__(self, loop: asyncio.AbstractEventLoop, count: int) -> None:
        self.results: list[_Stored | BaseException | None] = [None] * count
        self.left = count
        self.done: asyncio.Future[None] = loop.create_future()
        if not count:
            self.done.set_result(None)

    def answer(self, index: int, outcome: _Stored | BaseException) -> None:
        """The outcome of event `index`; only its first counts (a batch may be settled twice)."""
        if self.results[index] is None:
            self.results[index] = outcome
            self.left -= 1
            if not self.left and not self.done.done():
                self.done.set_result(None)


class _Outbox:
    """This node's partition of one topic: the publishes waiting, and the task that drains them."""

    __slots__ = ("lagging", "pending", "task")

    def __init__(self) -> None:
        self.pending: collections.deque[_Pending] = collections.deque()
        self.task: asyncio.Task[None] | None = None
        self.lagging = True  # unknown until the first copy: a restarted node may have died mid-batch


def _check_publish(request: node_pb2.StreamPublishRequest) -> None:
    """InvalidArgument for what pubsub would refuse: an event is checked as a message is."""
    check_message(request.topic, request.data, request.headers)


class Streams:
    """Event streams of one node. `keyring` returns the mesh's current gossip keyring."""

    def __init__(self, runtime: Runtime, transport: NetTransport, keyring: Callable[[], Keyring], node_id: str,
                 logger: Logger, log: EventLog, *, replicas: int = 2, ack_timeout_s: float = ACK_TIMEOUT_S,
                 max_age_s: float = DEFAULT_MAX_AGE_S, max_bytes: int = DEFAULT_MAX_BYTES,
                 prune_interval_s: float = PRUNE_INTERVAL_S) -> None:
        self._transport = transport
        self._keyring = keyring
        self._node_id = node_id
        self._log = logger
        self.log = log
        self._replicas = replicas
        self._ack_timeout = ack_timeout_s
        self._max_age = max_age_s
        self._max_bytes = max_bytes
        self._prune_interval = prune_interval_s
        self.stats: collections.Counter[str] = collections.Counter()
        self.view = PartitionView(runtime, node_id, log, self.stats)
        self.group_info: Callable[[str], list[node_pb2.StreamGroup]] | None = None
        """Set by the consumer side: the groups of a topic, for `info`."""
        self._outboxes: dict[str, _Outbox] = {topic: _Outbox() for topic, origin, _ in log.held()
                                              if origin == node_id}
        # What each replica (topic, address) held after the last copy that it acknowledged.
        self._replica_heads: dict[tuple[str, str], int] = {}
        self._epoch = 0
        """Counts membership changes seen by the maintenance task."""
        self._loop = asyncio.get_running_loop()
        self._recovery = Recovery(node_id, log, self.view, self._ask, logger, self.stats)
        self._learning: asyncio.Task[None] | None = None
        self._maintenance = self._loop.create_task(self._maintain())

    def learn_heads(self, wait_for_peers: bool) -> None:
        """Refuse publishes until every live member has told which events of this node's partitions it
        holds, and those beyond this log are copied into it (see `recovery`). With
        `wait_for_peers` (the node rejoins a mesh) that waits for a first live member too."""
        if self._learning is None:
            self._learning = self._loop.create_task(self._learn(wait_for_peers))

    async def _learn(self, wait_for_peers: bool) -> None:
        await self._recovery.learn(wait_for_peers)
        # Partitions this log had lost entirely are this node's again: their replicas are checked too.
        for topic, origin, _ in self.log.held():
            if origin == self._node_id:
                self._outboxes.setdefault(topic, _Outbox())

    # ---- publishing ---------------------------------------------------------------------------------

    async def publish(self, request: node_pb2.StreamPublishRequest) -> node_pb2.StreamPublishReply:
        """Append to this node's partition of the topic and return once k replicas hold it too.
        InvalidArgument (nothing written) for a bad topic, payload or headers; Unavailable when too
        few replicas answered (the event stays in this node's log and is copied later)."""
        _check_publish(request)
        answers = _Answers(self._loop, 1)
        self._enqueue(request, answers, 0)
        await answers.done
        outcome = answers.results[0]
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        offset, replicas = outcome
        return node_pb2.StreamPublishReply(origin=self._node_id, offset=offset, replicas=replicas)

    async def publish_many(self, request: node_pb2.StreamPublishManyRequest) -> node_pb2.StreamPublishManyReply:
        """Each event published on its own, all at once so that each topic's outbox takes them in one
        batch; a refused or unreplicated one is answered with its error."""
        answers = _Answers(self._loop, len(request.events))
        for index, event in enumerate(request.events):
            try:
                _check_publish(event)
            except NodeError as exc:
                answers.answer(index, exc)
            else:
                self._enqueue(event, answers, index)
        await answers.done
        reply = node_pb2.StreamPublishManyReply()
        results = reply.results
        for answer in answers.results:  # each result built in place: a list of them would be copied in again
            if isinstance(answer, BaseException):
                code, message = refusal(answer)
                results.add(code=code, message=message)
            else:
                assert answer is not None
                results.add(origin=self._node_id, offset=answer[0], replicas=answer[1])
        return reply

    def _enqueue(self, request: node_pb2.StreamPublishRequest, answers: _Answers, index: int) -> None:
        """Queue a checked publish on its topic's outbox; its answer goes to `answers` at `index`."""
        if self._learning is not None and not self._learning.done():
            self.stats["publish_unavailable"] += 1
            answers.answer(index, Unavailable(
                "this node is learning the heads of its partitions from the mesh's members after its start, "
                "so that no offset is handed out twice; publish again once it has reached them"))
            return
        box = self._outboxes.get(request.topic)
        if box is None:
            box = self._outboxes[request.topic] = _Outbox()
        box.pending.append((request, answers, index))
        if box.task is None:
            box.task = self._loop.create_task(self._drain(request.topic, box))

    async def _drain(self, topic: str, box: _Outbox) -> None:
        """Append and copy the outbox's publishes a batch at a time; with none, copy what is behind."""
        try:
            repair = box.lagging
            while box.pending or repair:
                repair = False
                batch = self._take(box)
                events: list[node_pb2.StreamEvent] = []
                try:
                    await self._check_head(topic)
                    events = self._number(topic, batch)
                    if events:
                        await self.log.append(topic, self._node_id, events)
                        self.view.moved(topic, self._node_id)
                        self.stats["published"] += len(events)
                    epoch = self._epoch
                    acked, needed = await self._replicate(topic, events)
                except NodeError as exc:
                    if isinstance(exc, Diverged):
                        # Copying again cannot help (and would log it every second): the next publish tries.
                        box.lagging = False
                    _settle(batch, exc)
                    continue
                except asyncio.CancelledError:
                    _settle(batch, Unavailable("the node is stopping"))
                    raise
                except Exception as exc:  # noqa: BLE001 - publishers must get an answer, and the outbox a drain
                    self._log.error("streams.publish_failed", topic=topic, error=repr(exc))
                    _settle(batch, exc)
                    continue
                # The membership changing while this copied may have made other peers the replicas.
                box.lagging = acked < needed or epoch != self._epoch
                if acked < needed:
                    self.stats["publish_unavailable"] += len(batch)
                    _settle(batch, Unavailable(f"{acked} of {needed} replicas of {topic} answered in time; the "
                                               "event is in this node's log and will be copied later"))
                    continue
                for (_, answers, index), event in zip(batch, events, strict=True):
                    answers.answer(index, (event.offset, acked))
        finally:
            box.task = None

    async def _check_head(self, topic: str) -> None:
        """Numbering goes on from this log's head only when no holder of the partition gossips a higher
        one (events this log lost, or that a holder away at start has): those are copied back first."""
        if self.view.head(topic, self._node_id) <= self.log.head(topic, self._node_id):
            return
        if not await self._recovery.catch_up(topic, self.view.holders(topic, self._node_id)):
            raise Unavailable(f"a copy of this node's partition of {topic} holds events its log lacks, and no "
                              "holder answered to copy them back; publish again shortly")

    @staticmethod
    def _take(box: _Outbox) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 0
        while box.pending and len(batch) < _BATCH_EVENTS:
            request = box.pending[0][0]
            weight = len(request.data)
            if request.headers:
                weight += sum(len(k) + len(v) for k, v in request.headers.items())
            if batch and size + weight > _BATCH_BYTES:
                break
            batch.append(box.pending.popleft())
            size += weight
        return batch

    def _number(self, topic: str, batch: list[_Pending]) -> list[node_pb2.StreamEvent]:
        """The batch's events, numbered on from the head. Without topic and origin: the log keeps them
        per partition and `StreamReplicate` carries them once, so no event is built, stored or sent with
        them (a fifth of a small event's bytes)."""
        head = self.log.head(topic, self._node_id)
        now = time.time()
        # headers=None when there are none: protobuf copies even an empty map.
        return [node_pb2.StreamEvent(offset=head + 1 + i, published_at=now, data=request.data,
                                     headers=request.headers if request.headers else None)
                for i, (request, _, _) in enumerate(batch)]

    async def _replicate(self, topic: str, events: list[node_pb2.StreamEvent]) -> tuple[int, int]:
        """Copy this node's partition up to its head to k peers (`events` are its newest); (how many
        acknowledged, k)."""
        members = self.view.alive()
        ranked, needed = copy_plan(topic, self._node_id, members, self.view.holders(topic, self._node_id),
                                   self._replicas)
        target = self.log.head(topic, self._node_id)
        deadline = self._loop.time() + self._ack_timeout
        acked = 0
        tried = 0
        running: set[asyncio.Task[bool]] = set()
        try:
            while acked < needed:
                while acked + len(running) < needed and tried < len(ranked):
                    member = ranked[tried]
                    tried += 1
                    running.add(self._loop.create_task(self._copy(members[member], topic, events, target)))
                if not running:
                    break
                done, running = await asyncio.wait(running, timeout=max(0.0, deadline - self._loop.time()),
                                                   return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    break
                acked += sum(task.result() for task in done)
        finally:
            for task in running:
                task.cancel()
        self.stats["replicated"] += acked * len(events)
        return acked, needed

    async def _copy(self, address: str, topic: str, events: list[node_pb2.StreamEvent], target: int) -> bool:
        """Send `events` to one replica, then backfill it from this log until it holds `target`. Raises
        `Diverged` when the replica holds other events at their offsets."""
        known = self._replica_heads.get((topic, address))
        try:
            if known is not None and events and known + 1 < events[0].offset:
                # Known to be behind: the events would be refused; the backfill below carries them.
                head = known
            else:
                head = await self._send_events(address, topic, events)
            while head < target:
                first = self.log.first(topic, self._node_id)
                missing = self.log.read(topic, self._node_id, max(head + 1, first), _BATCH_EVENTS)
                moved = await self._send_events(address, topic, missing) if missing else head
                if moved == head:
                    self._replica_heads.pop((topic, address), None)
                    return False
                if moved < head:
                    # Behind what it held before (its log was lost): copy on from what it has.
                    head = moved
                    continue
                self.stats["backfilled"] += moved - head
                head = moved
            self._replica_heads[(topic, address)] = head
            return True
        except Diverged:
            self._replica_heads.pop((topic, address), None)
            raise
        except (grpc.RpcError, IdentityError, DecodeError) as exc:
            reason = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
            self._log.debug("streams.copy_failed", address=address, topic=topic, error=reason or repr(exc))
            self._replica_heads.pop((topic, address), None)
            if self._transport.channel(address).get_state() == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                # The peer is down: a channel in reconnect backoff would fail fast after it is back.
                self._transport.evict(address)
            return False

    async def _send_events(self, address: str, topic: str, events: list[node_pb2.StreamEvent]) -> int:
        """Copy `events` to the replica at `address`; its head after. Raises `Diverged` when it refused
        them for holding other events at their offsets (or at the one before)."""
        prev = self.log.published_at(topic, self._node_id, events[0].offset - 1) if events else 0.0
        request = node_pb2.StreamReplicate(topic=topic, origin=self._node_id, events=events, prev_published_at=prev)
        reply = await self._ask(address, "StreamReplicate", request, node_pb2.StreamReplicated)
        if reply.conflict:
            self.stats["diverged"] += 1
            self._log.error("streams.diverged", topic=topic, replica=address, offset=reply.conflict)
            raise Diverged(topic, address, reply.conflict)
        return reply.head

    async def _ask(self, address: str, method: str, request: Message, kind: type[_M]) -> _M:
        """`Peer.<method>` of the node at `address` with `request` sealed, its sealed answer opened."""
        call = getattr(node_pb2_grpc.PeerStub(self._transport.channel(address)), method)
        reply = await call(self._seal(request), timeout=self._ack_timeout)
        return unseal(self._keyring(), reply, kind)

    # ---- the replica side ---------------------------------------------------------------------------

    async def serve_replicate(self, frame: node_pb2.Frame) -> node_pb2.Frame:
        """`Peer.StreamReplicate`: append the origin's events to the copy here; answer its head."""
        request = self._open(frame, node_pb2.StreamReplicate)
        # The events are the request's partition's whatever topic or origin they name: the log gives
        # them the partition's when they are read.
        if not request.origin or request.origin == self._node_id:
            self.stats["dropped_frames"] += 1
            raise InvalidArgument("a StreamReplicate carries events of another node's partition")
        before = self.log.head(request.topic, request.origin)
        # A copy that starts where the origin's retained events start continues it, whatever came before.
        origin_first = self.view.holders(request.topic, request.origin).get(request.origin, (0, 0))[0]
        since = origin_first if request.events and request.events[0].offset == origin_first else 0
        try:
            head = await self.log.append(request.topic, request.origin, list(request.events), since,
                                         request.prev_published_at)
        except Conflict as exc:
            self.stats["conflicts_refused"] += 1
            self._log.warning("streams.conflict_refused", topic=request.topic, origin=request.origin,
                              offset=exc.offset)
            return self._seal(node_pb2.StreamReplicated(head=exc.head, conflict=exc.offset))
        if head != before:
            self.stats["replica_appends"] += max(0, head - before)
            self.view.moved(request.topic, request.origin)
        return self._seal(node_pb2.StreamReplicated(head=head))

    async def serve_heads(self, frame: node_pb2.Frame) -> node_pb2.Frame:
        """`Peer.StreamHeads`: the partitions of the asking origin held here, with their first and head."""
        request = self._unseal(frame, node_pb2.StreamHeadsRequest)
        heads = [node_pb2.StreamHead(topic=topic, first=part.first, head=part.head)
                 for topic, origin, part in self.log.held() if origin == request.origin]
        return self._seal(node_pb2.StreamHeads(heads=heads))

    # ---- reads --------------------------------------------------------------------------------------

    def partitions(self, topic: str) -> list[PartitionInfo]:
        """Every partition of `topic` known mesh-wide, by origin."""
        return self.view.partitions(topic)

    def watch_heads(self, watcher: HeadWatcher) -> Callable[[], None]:
        """Call `watcher(topic, origin, head)` when a partition's highest known head moves."""
        return self.view.watch_heads(watcher)

    async def read(self, topic: str, origin: str, from_offset: int, limit: int,
                   since: float = 0.0) -> node_pb2.StreamEvents:
        """Events of one partition in order (see the module's docstring); Unavailable if no holder answers."""
        check_topic(topic)
        limit = max(1, min(limit, MAX_READ_LIMIT))
        holders = self.view.holders(topic, origin)
        if reads_here(self._node_id, holders, from_offset, limit):
            return self._read_here(topic, origin, from_offset, limit, since)
        alive = self.view.alive()
        request = node_pb2.StreamRead(topic=topic, origin=origin, from_offset=from_offset, since=since, limit=limit)
        for holder in read_sources(origin, self._node_id, holders, alive):
            if holder == self._node_id:
                return self._read_here(topic, origin, from_offset, limit, since)
            try:
                reply = await self._ask(alive[holder], "StreamRead", request, node_pb2.StreamEvents)
                self.stats["remote_reads"] += 1
                return reply
            except (grpc.RpcError, IdentityError, DecodeError) as exc:
                self._log.debug("streams.read_failed", holder=holder, topic=topic, error=str(exc))
        raise Unavailable(f"no node holding {topic} of {origin} answered")

    def _read_here(self, topic: str, origin: str, from_offset: int, limit: int, since: float) -> node_pb2.StreamEvents:
        if not from_offset:
            from_offset = self.log.offset_since(topic, origin, since) if since else 1
        return node_pb2.StreamEvents(events=self.log.read(topic, origin, from_offset, limit),
                                     first=self.log.first(topic, origin), head=self.log.head(topic, origin))

    async def serve_read(self, frame: node_pb2.Frame) -> node_pb2.Frame:
        """`Peer.StreamRead`: a partition's events from this node's log."""
        request = self._open(frame, node_pb2.StreamRead)
        self.stats["reads_served"] += 1
        limit = max(1, min(request.limit, MAX_READ_LIMIT))
        return self._seal(self._read_here(request.topic, request.origin, request.from_offset, limit, request.since))

    def info(self, topic: str) -> node_pb2.StreamInfoReply:
        """`Node.StreamInfo`: the topic's partitions, and its groups from `group_info` when set."""
        check_topic(topic)
        partitions = [node_pb2.StreamPartition(origin=p.origin, first=p.first, head=p.head,
                                               replicas=[h for h in p.holders if h != p.origin],
                                               origin_alive=p.origin_alive)
                      for p in self.partitions(topic)]
        groups = self.group_info(topic) if self.group_info is not None else []
        return node_pb2.StreamInfoReply(partitions=partitions, groups=groups)

    # ---- frames -------------------------------------------------------------------------------------

    def _seal(self, message: Message) -> node_pb2.Frame:
        return seal(self._keyring(), self._transport.source, message)

    def _open(self, frame: node_pb2.Frame, kind: type[_M]) -> _M:
        """The frame's message, its topic checked; a frame that does not open is counted and refused."""
        message = self._unseal(frame, kind)
        try:
            check_topic(getattr(message, "topic"))  # noqa: B009 - these frames have one; Message does not say so
        except InvalidArgument as exc:
            self.stats["dropped_frames"] += 1
            raise InvalidArgument(f"a stream frame from {frame.source or 'a peer'} does not open: {exc}") from None
        return message

    def _unseal(self, frame: node_pb2.Frame, kind: type[_M]) -> _M:
        """The frame's message; a frame that does not open is counted and refused."""
        try:
            return unseal(self._keyring(), frame, kind)
        except (IdentityError, DecodeError) as exc:
            self.stats["dropped_frames"] += 1
            raise InvalidArgument(f"a stream frame from {frame.source or 'a peer'} does not open: {exc}") from None

    # ---- maintenance --------------------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Copy what replicas lack (after a failed copy, and whenever the membership changed), and prune
        by age and size, forever (cancelled by `close`)."""
        next_prune = self._loop.time()
        members: frozenset[tuple[str, int, int]] = frozenset()
        while True:
            membership = self.view.membership()
            if membership != members:
                # A member came, went or restarted (between two ticks, too): the replicas of a partition
                # may be others now, or more, or have missed events.
                members = membership
                self._epoch += 1
                for box in self._outboxes.values():
                    box.lagging = True
            for topic, box in self._outboxes.items():
                if box.lagging and box.task is None:
                    box.task = self._loop.create_task(self._drain(topic, box))
            if self._loop.time() >= next_prune:
                next_prune = self._loop.time() + self._prune_interval
                await self.prune()
            await asyncio.sleep(REPAIR_INTERVAL_S)

    async def prune(self) -> int:
        """Apply retention now; the number of events deleted."""
        before = {(topic, origin): part.first for topic, origin, part in self.log.held()}
        try:
            removed = await self.log.prune(time.time(), self._max_age, self._max_bytes)
        except NodeError as exc:
            self._log.warning("streams.prune_failed", error=exc.message)
            return 0
        self.stats["pruned"] += removed
        for topic, origin, part in self.log.held():
            if before.get((topic, origin)) != part.first:
                self.view.moved(topic, origin)
        return removed

    # ---- the node's side ----------------------------------------------------------------------------

    def on_owned(self, event: OwnedStateChanged) -> None:
        self.view.on_owned(event)

    def rebuilt(self) -> None:
        self.view.rebuilt()

    def counters(self) -> dict[str, int]:
        """For `micro node status`: events published here, copied to replicas (events x replicas),
        backfilled, appended as a replica, publishes answered UNAVAILABLE, reads served for peers and
        made remotely, events pruned, bad frames and records, events of this node's partitions copied
        back from members (`recovered`), copies found to differ from this log (`diverged`), copies
        refused here for holding other events (`conflicts_refused`), and the partitions held here."""
        counts = {name: 0 for name in ("published", "replicated", "backfilled", "replica_appends",
                                       "publish_unavailable", "reads_served", "remote_reads", "pruned",
                                       "dropped_frames", "dropped_records", "recovered", "diverged",
                                       "conflicts_refused")}
        counts.update(self.stats)
        counts["partitions"] = len(self.log.held())
        return {f"streams.{name}": count for name, count in sorted(counts.items())}

    async def close(self) -> None:
        """Stop copying and pruning; publishes still waiting get UNAVAILABLE (the log is the node's to close)."""
        self._maintenance.cancel()
        tasks = [box.task for box in self._outboxes.values() if box.task is not None]
        if self._learning is not None:
            tasks.append(self._learning)
        for task in [self._maintenance, *tasks]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        stopping = Unavailable("the node is stopping")
        for box in self._outboxes.values():
            _settle(list(box.pending), stopping)
            box.pending.clear()
        self.view.close()


def _settle(batch: list[_Pending], error: BaseException) -> None:
    for _, answers, index in batch:
        answers.answer(index, error)

