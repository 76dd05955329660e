"""One consumer's `StreamConsume` stream: the asyncio binding of its `delivery.Delivery`.

The loop, woken by acks, by changes in its group's members or its topic's heads, and at least every
`POLL_S`: takes the partitions rendezvous hashing gives it now (a partition it lost is dropped after
committing what was acked; one it gained starts after the group's committed offset, or where `from`
says, and that start is committed at once so the group's position does not depend on which member reads
first), sends what is due again, reads new events of its partitions (local or from a replica, through
`Streams.read`, the partitions concurrently) while fewer than `max_in_flight` are unacked, and commits
offsets that moved, at most every `COMMIT_S`. Acks are read by a second task. An event that used up `max_retries` deliveries is published to `TOPIC.dead`
with headers naming where it came from, then counts as acked.

A group's redeliveries are counted in the KV store too (table `attempts`, one key per event sent again,
deleted once the committed offset passes it), so a consumer that takes a partition over goes on counting
where the last one stopped and the retry limit holds across owners (a first delivery is not stored: a
takeover may add one).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator

from ...mesh import MeshError
from ..api.errors import InvalidArgument, NodeError
from ..api.proto import node_pb2
from ..kv.service import KvService, Write
from ..log import Logger
from .delivery import Delivery, Due, assign
from .service import DEFAULT_MAX_AGE_S, Streams

__all__ = ["ATTEMPTS_TABLE", "COMMIT_S", "OFFSETS_DB", "OFFSETS_TABLE", "POLL_S", "Options", "Session",
           "attempt_key", "offset_key", "offset_value"]

OFFSETS_DB = "streams"
OFFSETS_TABLE = "offsets"
ATTEMPTS_TABLE = "attempts"
_ATTEMPTS_TTL_S = DEFAULT_MAX_AGE_S
"""A count nobody deleted (its group gone) expires with the events it counts."""
COMMIT_S = 0.1
"""Seconds between two commits of one consumer at least (acks in between share one KV write)."""
POLL_S = 0.1
"""Seconds a consumer waits at most before looking for new events and partitions again."""
_READ_LIMIT = 256
_BATCH_BYTES = 1 << 20
_READ_RETRY_S = 0.5
"""A partition whose read failed (no holder reachable) is read again after this."""


def offset_key(topic: str, group: str, origin: str) -> str:
    return f"{topic}/{group}/{origin}"


def attempt_key(topic: str, group: str, origin: str, offset: int) -> str:
    return f"{offset_key(topic, group, origin)}/{offset}"


def offset_value(value: bytes | None) -> int | None:
    """A committed offset from its KV value (None when absent or not a decimal)."""
    if value is None:
        return None
    try:
        offset = int(value.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return offset if offset >= 0 else None


@dataclasses.dataclass(frozen=True)
class Options:
    """A consumer's checked settings. `offset`/`since` (at most one set; neither: new events only) say
    where a partition with no committed offset starts; `started_at` is the wall clock at the start."""

    topic: str
    group: str
    private: bool
    ack_wait: float
    max_retries: int
    max_in_flight: int
    auto_ack: bool
    offset: int | None
    since: float | None
    started_at: float


def _chunks(events: list[node_pb2.StreamEvent]) -> Iterator[node_pb2.StreamEventBatch]:
    """Batches of at most `_READ_LIMIT` events and about `_BATCH_BYTES` (one event always)."""
    batch: list[node_pb2.StreamEvent] = []
    size = 0
    for event in events:
        event_size = event.ByteSize()
        if batch and (len(batch) >= _READ_LIMIT or size + event_size > _BATCH_BYTES):
            yield node_pb2.StreamEventBatch(events=batch)
            batch, size = [], 0
        batch.append(event)
        size += event_size
    if batch:
        yield node_pb2.StreamEventBatch(events=batch)


def _attempt(event: node_pb2.StreamEvent, attempt: int) -> node_pb2.StreamEvent:
    out = node_pb2.StreamEvent()
    out.CopyFrom(event)
    out.attempt = attempt
    return out


class Session:
    """One consumer: its partitions, deliveries and commits. `members` gives its group's consumer ids."""

    def __init__(self, consumer_id: str, options: Options, streams: Streams, kv: KvService,
                 members: Callable[[], set[str]], stats: collections.Counter[str], logger: Logger) -> None:
        self.consumer_id = consumer_id
        self.options = options
        self._streams = streams
        self._kv = kv
        self._members = members
        self._stats = stats
        self._log = logger
        self._loop = asyncio.get_running_loop()
        self._delivery: Delivery[node_pb2.StreamEvent] = Delivery(
            options.ack_wait, options.max_retries, options.max_in_flight, options.auto_ack)
        # New events only: the heads of the partitions known at the start (later ones start at its time).
        self._heads_at_start = {p.origin: p.head for p in streams.partitions(options.topic)}
        # Offsets to store besides those the delivery reports: the starts of partitions taken with none
        # committed, and offsets whose write failed (tried again with the next commit).
        self._unsaved: dict[str, int] = {}
        # Redelivery counts stored for the group, per partition: offset -> deliveries (see the module doc).
        self._attempts: dict[str, dict[int, int]] = {}
        self._retry_at: dict[str, float] = {}
        self._wake = asyncio.Event()
        self._failure: BaseException | None = None
        self._acks_ended = False
        self._last_commit = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run(self, inputs: AsyncIterator[node_pb2.StreamConsumeInput]
                  ) -> AsyncGenerator[node_pb2.StreamEventBatch, None]:
        """Batches of events to send, until the caller stops iterating or, unless acks are automatic, the
        client stops sending (then the stream ends once `close` has committed); raises what a bad input
        raised. An auto-ack client has nothing to send after its start, so its half-close means nothing."""
        acks = self._loop.create_task(self._read_acks(inputs))
        try:
            while True:
                self._wake.clear()
                if self._failure is not None:
                    raise self._failure
                if self._acks_ended and not self.options.auto_ack:
                    return
                await self._assign()
                events = await self._redeliver()
                events += await self._read_new()
                for batch in _chunks(events):
                    yield batch
                await self._commit(force=False)
                if not events:
                    await self._sleep()
        finally:
            acks.cancel()

    async def close(self) -> None:
        """Commit what was acked (the consumer is leaving; the next owner starts after it)."""
        await self._commit(force=True)

    # ---- acks ---------------------------------------------------------------------------------------

    async def _read_acks(self, inputs: AsyncIterator[node_pb2.StreamConsumeInput]) -> None:
        try:
            async for item in inputs:
                if item.WhichOneof("kind") != "ack":
                    raise InvalidArgument("after its StreamConsumeStart, StreamConsume takes only acks")
                ack, now = item.ack, self._loop.time()
                if ack.nack:
                    done = self._delivery.nack(ack.origin, ack.offset, now)
                    self._stats["nacked" if done else "unknown_acks"] += 1
                else:
                    done = self._delivery.ack(ack.origin, ack.offset)
                    self._stats["acked" if done else "unknown_acks"] += 1
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 - a bad input (or a broken stream) ends the consumer with its status
            self._failure = exc
        else:
            self._acks_ended = True  # the client is done (half-close): no ack can come any more
        self._wake.set()

    # ---- partitions ---------------------------------------------------------------------------------

    async def _assign(self) -> None:
        """Take and drop partitions as rendezvous hashing says for the members known now."""
        origins = [p.origin for p in self._streams.partitions(self.options.topic)]
        owners = assign(self._members(), origins)
        mine = {origin for origin, consumer in owners.items() if consumer == self.consumer_id}
        held = self._delivery.partitions
        if held - mine:
            await self._commit(force=True)
            for origin in held - mine:
                self._delivery.drop_partition(origin)
                self._unsaved.pop(origin, None)
                self._attempts.pop(origin, None)
                self._stats["rebalances"] += 1
        for origin in sorted(mine - held):
            if self._retry_at.get(origin, 0.0) > self._loop.time():
                continue
            try:
                committed = await self._start(origin)
            except NodeError as exc:
                self._read_failed(origin, exc)
                continue
            self._delivery.add_partition(origin, committed)
            self._attempts[origin] = self._stored_attempts(origin)
            self._stats["rebalances"] += 1

    def _stored_attempts(self, origin: str) -> dict[int, int]:
        """The group's redelivery counts of a partition taken now (none for a private group)."""
        if self.options.private:
            return {}
        prefix = offset_key(self.options.topic, self.options.group, origin) + "/"
        counts: dict[int, int] = {}
        for entry in self._kv.visible(OFFSETS_DB, ATTEMPTS_TABLE, prefix):
            offset, count = offset_value(entry.key[len(prefix):].encode()), offset_value(entry.value)
            if offset is not None and count is not None:
                counts[offset] = count
        return counts

    async def _start(self, origin: str) -> int:
        """The last offset already done in a partition taken now: committed by the group, else per `from`."""
        options = self.options
        if not options.private:
            entry = self._kv.lookup(OFFSETS_DB, OFFSETS_TABLE, offset_key(options.topic, options.group, origin))
            committed = offset_value(entry.value if entry is not None else None)
            if committed is not None:
                return committed
        if options.offset is not None:
            start = max(options.offset, 1) - 1
        elif options.since is None and origin in self._heads_at_start:
            start = self._heads_at_start[origin]
        else:
            since = options.since if options.since is not None else options.started_at
            found = await self._streams.read(options.topic, origin, 0, 1, since=since)
            start = found.events[0].offset - 1 if found.events else found.head
        self._unsaved[origin] = start
        return start

    # ---- sending ------------------------------------------------------------------------------------

    async def _redeliver(self) -> list[node_pb2.StreamEvent]:
        again, dead = self._delivery.due(self._loop.time())
        self._stats["redelivered"] += len(again)
        for due in dead:
            await self._dead_letter(due)
        if again and not self.options.private:
            await self._store_attempts(again)
        return [_attempt(due.event, due.attempt) for due in again]

    async def _store_attempts(self, again: list[Due[node_pb2.StreamEvent]]) -> None:
        """Count these redeliveries for the group. When the write fails, only a takeover could miss the
        count (it would deliver more often): the failure is counted and logged, not retried."""
        topic, group = self.options.topic, self.options.group
        for due in again:
            self._attempts.setdefault(due.origin, {})[due.offset] = due.attempt
        try:
            await self._kv.write([Write(OFFSETS_DB, ATTEMPTS_TABLE, attempt_key(topic, group, due.origin, due.offset),
                                        str(due.attempt).encode(), _ATTEMPTS_TTL_S) for due in again])
        except (NodeError, MeshError) as exc:
            self._stats["attempt_write_failures"] += 1
            self._log.warning("consumers.attempts_not_stored", topic=topic, group=group, error=str(exc))

    async def _dead_letter(self, due: Due[node_pb2.StreamEvent]) -> None:
        topic = self.options.topic
        headers = dict(due.event.headers)
        headers.update({"dead-topic": topic, "dead-origin": due.origin, "dead-offset": str(due.offset),
                        "dead-attempts": str(due.attempt), "dead-group": self.options.group})
        try:
            await self._streams.publish(node_pb2.StreamPublishRequest(topic=f"{topic}.dead", data=due.event.data,
                                                                      headers=headers))
        except NodeError as exc:
            # UNAVAILABLE: too few replicas, but the event is in this node's log of TOPIC.dead.
            if exc.code != "UNAVAILABLE":
                self._stats["dead_letter_failures"] += 1
                self._log.warning("consumers.dead_letter_failed", topic=topic, origin=due.origin,
                                  offset=due.offset, error=str(exc))
                self._delivery.ack(due.origin, due.offset)  # a refused letter would be refused again
                return
        self._stats["dead_lettered"] += 1
        self._delivery.ack(due.origin, due.offset)

    async def _read_new(self) -> list[node_pb2.StreamEvent]:
        """New events of the owned partitions, as many as may be in flight, each registered as sent. The
        partitions are read concurrently (a slow or unreachable holder delays no other partition), the
        room shared between them."""
        room, now = self._delivery.room, self._loop.time()
        heads = {p.origin: p.head for p in self._streams.partitions(self.options.topic)}
        wanted = [origin for origin in sorted(self._delivery.partitions)
                  if heads.get(origin, 0) >= self._delivery.position(origin) and self._retry_at.get(origin, 0.0) <= now]
        if room <= 0 or not wanted:
            return []
        wanted = wanted[:room]
        share = min(_READ_LIMIT, room // len(wanted))
        reads = [self._streams.read(self.options.topic, origin, self._delivery.position(origin), share)
                 for origin in wanted]
        results = await asyncio.gather(*reads, return_exceptions=True)
        out: list[node_pb2.StreamEvent] = []
        now = self._loop.time()
        for origin, found in zip(wanted, results, strict=True):
            if isinstance(found, NodeError):
                self._read_failed(origin, found)
                continue
            if isinstance(found, BaseException):
                raise found
            for event in found.events:
                # The partition may have moved away while the read was awaited: then nothing is sent.
                delivered = self._attempts.get(origin, {}).get(event.offset, 0)
                if self._delivery.sent(origin, event.offset, event, now, event.ByteSize(), delivered):
                    out.append(_attempt(event, delivered + 1))
        self._stats["delivered"] += len(out)
        return out

    def _read_failed(self, origin: str, exc: NodeError) -> None:
        """No holder of the partition answered: try it again a little later."""
        self._stats["read_failures"] += 1
        self._retry_at[origin] = self._loop.time() + _READ_RETRY_S
        self._log.debug("consumers.read_failed", topic=self.options.topic, origin=origin, error=str(exc))

    async def _sleep(self) -> None:
        timeout = POLL_S
        deadline = self._delivery.timer()
        if deadline is not None:
            timeout = min(timeout, max(0.0, deadline - self._loop.time()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            pass

    # ---- offsets ------------------------------------------------------------------------------------

    async def _commit(self, force: bool) -> None:
        """Store the committed offsets that moved (and starts of partitions taken with none), at most every
        `COMMIT_S` unless `force`d. A private group commits nothing."""
        now = self._loop.time()
        if not force and now - self._last_commit < COMMIT_S:
            return
        moved = {**self._unsaved, **self._delivery.commits()}
        self._unsaved.clear()
        if self.options.private or not moved:
            return
        self._last_commit = now
        topic, group = self.options.topic, self.options.group
        writes = [Write(OFFSETS_DB, OFFSETS_TABLE, offset_key(topic, group, origin), str(offset).encode())
                  for origin, offset in sorted(moved.items())]
        writes += self._passed_attempts(moved)
        try:
            await self._kv.write(writes)
        except asyncio.CancelledError:
            # The stream ended during the write: the consumer's last commit writes these again.
            self._keep_unsaved(moved)
            raise
        except (NodeError, MeshError) as exc:
            self._keep_unsaved(moved)
            self._stats["commit_failures"] += 1
            self._log.warning("consumers.commit_failed", topic=topic, group=group, error=str(exc))
            return
        self._stats["commits"] += len(moved)

    def _passed_attempts(self, committed: dict[str, int]) -> list[Write]:
        """Deletions of the stored counts of events the committed offsets now pass (should the write fail,
        they expire with their events)."""
        topic, group = self.options.topic, self.options.group
        deletes: list[Write] = []
        for origin, offset in sorted(committed.items()):
            counts = self._attempts.get(origin, {})
            for passed in sorted(o for o in counts if o <= offset):
                del counts[passed]
                deletes.append(Write(OFFSETS_DB, ATTEMPTS_TABLE, attempt_key(topic, group, origin, passed), None))
        return deletes

    def _keep_unsaved(self, moved: dict[str, int]) -> None:
        """Offsets whose write did not complete, kept for the next commit (of partitions still owned)."""
        owned = self._delivery.partitions
        self._unsaved = {**{origin: offset for origin, offset in moved.items() if origin in owned}, **self._unsaved}
