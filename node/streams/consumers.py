"""Consumer groups of event streams, at least once (like JetStream's consumers): `Node.StreamConsume`.

Each consumer on this node is one owned entry, `consumer/<24 hex of BLAKE2b(consumer id)>` = CBOR
`[topic, group, consumer id]`, set when its stream starts and deleted when it ends; every node files the
others' entries from `OwnedStateChanged` (the core drops a dead or departed member's owned state with
events, so its consumers go with it). A group's members are thus known mesh-wide, and each consumer
takes the partitions (origin logs) of its topic that rendezvous hashing gives it among them
(`delivery.assign`), recomputed whenever the members or the partitions change.

A consumer's stream is served by a `consumers_session.Session`. Offsets committed by a group live in the
replicated KV store: database `streams`, table `offsets`, key `<topic>/<group>/<origin>`, value the last
offset acked in order (decimal text). A partition taken over starts after its committed offset, so the
events its previous owner did not see acked are delivered again; a partition with none starts where the
consumer's `from` says. Group "" is a private group of one consumer with a random name that commits
nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import math
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import cbor2

from ...mesh import OwnedStateChanged
from ..api.errors import InvalidArgument
from ..api.limits import MAX_ACK_WAIT, MAX_IN_FLIGHT, MAX_RETRIES
from ..api.proto import node_pb2
from ..api.subjects import check_group, check_topic
from ..kv.service import KvService
from ..log import Logger
from ..runtime import Runtime
from .consumer_session import OFFSETS_DB, OFFSETS_TABLE, Options, Session, offset_value
from .service import Streams

__all__ = ["KEY_PREFIX", "MAX_ACK_WAIT", "MAX_IN_FLIGHT", "MAX_RETRIES", "Consumers", "decode_record",
           "encode_record"]

KEY_PREFIX = "consumer/"
_DEFAULT_ACK_WAIT = 30.0
_DEFAULT_RETRIES = 5
_DEFAULT_IN_FLIGHT = 1000
_Group = tuple[str, str]  # (topic, group)


def _record_key(consumer_id: str) -> str:
    return KEY_PREFIX + hashlib.blake2b(consumer_id.encode(), digest_size=12).hexdigest()


def _options(start: node_pb2.StreamConsumeStart, started_at: float) -> Options:
    """The consumer's settings, defaulted and checked (InvalidArgument names the bad one)."""
    check_topic(start.topic)
    check_group(start.group, "consumer group")
    ack_wait = start.ack_wait_s or _DEFAULT_ACK_WAIT
    if not (math.isfinite(ack_wait) and 0 < ack_wait <= MAX_ACK_WAIT):
        raise InvalidArgument(f"ack_wait_s is {start.ack_wait_s}; it is more than 0 and at most {MAX_ACK_WAIT:g} "
                              f"seconds (0: {_DEFAULT_ACK_WAIT:g})")
    if start.max_retries > MAX_RETRIES:
        raise InvalidArgument(f"max_retries is {start.max_retries}; at most {MAX_RETRIES} "
                              f"(0: {_DEFAULT_RETRIES})")
    if start.max_in_flight > MAX_IN_FLIGHT:
        raise InvalidArgument(f"max_in_flight is {start.max_in_flight}; at most {MAX_IN_FLIGHT} "
                              f"(0: {_DEFAULT_IN_FLIGHT})")
    since: float | None = None
    offset: int | None = None
    which = start.WhichOneof("from")
    if which == "since":
        if not (math.isfinite(start.since) and start.since >= 0):
            raise InvalidArgument(f"since is {start.since}; it is a time in seconds since the epoch")
        since = start.since
    elif which == "offset":
        offset = start.offset
    elif which == "from_start":
        offset = 1
    return Options(topic=start.topic, group=start.group or f"$private.{secrets.token_hex(6)}",
                   private=not start.group, ack_wait=ack_wait, max_retries=start.max_retries or _DEFAULT_RETRIES,
                   max_in_flight=start.max_in_flight or _DEFAULT_IN_FLIGHT, auto_ack=start.auto_ack,
                   offset=offset, since=since, started_at=started_at)


def encode_record(topic: str, group: str, consumer_id: str) -> bytes:
    """The owned entry's value for one consumer."""
    return cbor2.dumps([topic, group, consumer_id])


def decode_record(value: bytes) -> tuple[str, str, str] | None:
    """(topic, group, consumer id) of a remote consumer record; None when it is malformed (it came from
    another node: never raises)."""
    try:
        fields: Any = cbor2.loads(value)
        if not isinstance(fields, list) or len(fields) != 3 or not isinstance(fields[2], str) or not fields[2]:
            return None
        return check_topic(fields[0]), check_group(fields[1], "consumer group"), fields[2]
    except (cbor2.CBORDecodeError, ValueError, TypeError, InvalidArgument, RecursionError, OverflowError):
        return None


class Consumers:
    """Every consumer of this node, the index of the mesh's, and the groups' view for StreamInfo."""

    def __init__(self, runtime: Runtime, kv: KvService, streams: Streams, node_id: str, logger: Logger) -> None:
        self._runtime = runtime
        self._kv = kv
        self._streams = streams
        self._node_id = node_id
        self._log = logger
        self._local: dict[str, Session] = {}  # consumer id -> its session
        self._remote: dict[tuple[bytes, str], tuple[str, str, str]] = {}  # (node, key) -> (topic, group, id)
        self._members: dict[_Group, set[str]] = {}  # (topic, group) -> consumer ids, mesh-wide
        self.stats: collections.Counter[str] = collections.Counter()
        self._closing: set[asyncio.Task[None]] = set()  # last commits of ended consumers
        streams.group_info = self.groups
        self._unwatch = streams.watch_heads(self._head_moved)

    # ---- consuming ----------------------------------------------------------------------------------

    async def consume(self, inputs: AsyncIterator[node_pb2.StreamConsumeInput],
                      registered: Callable[[], Awaitable[None]] | None = None,
                      allowed: Callable[[str], None] | None = None,
                      ) -> AsyncIterator[node_pb2.StreamEventBatch]:
        """Batches of events for a new consumer while iterated; ending it leaves the group. Raises
        InvalidArgument (on the first step, nothing registered) unless the first input is a valid start,
        and whatever `allowed` raises for its topic (the caller's access check)."""
        first = await anext(aiter(inputs), None)
        if first is None or first.WhichOneof("kind") != "start":
            raise InvalidArgument("the first message of StreamConsume is a StreamConsumeStart")
        options = _options(first.start, time.time())
        if allowed is not None:
            allowed(options.topic)
        consumer_id = f"{secrets.token_hex(6)}@{self._node_id}"
        session = Session(consumer_id, options, self._streams, self._kv, lambda: self.members(options.topic,
                          options.group), self.stats, self._log)
        self._add(session)
        try:
            if registered is not None:
                await registered()
            # Closed here, not when collected: its ack reader stops with the stream.
            async with contextlib.aclosing(session.run(inputs)) as batches:
                async for batch in batches:
                    yield batch
        finally:
            self._remove(session)
            # The last commit runs on its own task, so that a second cancellation (the node stopping while
            # it waits) does not lose what was acked; `close` waits for it.
            closing = asyncio.get_running_loop().create_task(session.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
            await asyncio.shield(closing)

    def _add(self, session: Session) -> None:
        options = session.options
        self._local[session.consumer_id] = session
        self._runtime.set_local(_record_key(session.consumer_id),
                                encode_record(options.topic, options.group, session.consumer_id))
        self._joined((options.topic, options.group), session.consumer_id)

    def _remove(self, session: Session) -> None:
        options = session.options
        del self._local[session.consumer_id]
        self._runtime.set_local(_record_key(session.consumer_id), None)
        self._left((options.topic, options.group), session.consumer_id)

    def members(self, topic: str, group: str) -> set[str]:
        """The consumer ids of a group, mesh-wide, as this node knows them."""
        return set(self._members.get((topic, group), ()))

    def _joined(self, group: _Group, consumer_id: str) -> None:
        self._members.setdefault(group, set()).add(consumer_id)
        self._rebalance(group)

    def _left(self, group: _Group, consumer_id: str) -> None:
        members = self._members.get(group)
        if members is None:
            return
        members.discard(consumer_id)
        if not members:
            del self._members[group]
        self._rebalance(group)

    def _head_moved(self, topic: str, origin: str, head: int) -> None:
        """New events (or a new partition): the topic's local consumers read them at once."""
        for session in self._local.values():
            if session.options.topic == topic:
                session.wake()

    def _rebalance(self, group: _Group) -> None:
        """The members of a group changed: its local consumers recompute their partitions."""
        for session in self._local.values():
            if (session.options.topic, session.options.group) == group:
                session.wake()

    # ---- other nodes' consumers ---------------------------------------------------------------------

    def on_owned(self, event: OwnedStateChanged) -> None:
        """A remote node's consumer record changed (None: deleted, or the node is gone)."""
        if not event.key.startswith(KEY_PREFIX):
            return
        old = self._remote.pop((event.node_id, event.key), None)
        if old is not None:
            self._left((old[0], old[1]), old[2])
        if event.value is None:
            return
        record = decode_record(event.value)
        if record is None:
            self.stats["dropped_records"] += 1
            return
        self._remote[(event.node_id, event.key)] = record
        self._joined((record[0], record[1]), record[2])

    def rebuilt(self) -> None:
        """The core was replaced (another mesh): forget the old mesh's consumers, publish ours anew."""
        for node_id, key in list(self._remote):
            self.on_owned(OwnedStateChanged(node_id=node_id, key=key, value=None))
        for session in self._local.values():
            options = session.options
            self._runtime.set_local(_record_key(session.consumer_id),
                                    encode_record(options.topic, options.group, session.consumer_id))

    # ---- views --------------------------------------------------------------------------------------

    def groups(self, topic: str) -> list[node_pb2.StreamGroup]:
        """Each group consuming `topic` (live consumers or committed offsets), with its consumers mesh-wide,
        committed offsets and lag (events after the committed offset, summed over partitions)."""
        check_topic(topic)
        committed: dict[str, dict[str, int]] = {}
        for entry in self._kv.visible(OFFSETS_DB, OFFSETS_TABLE, f"{topic}/"):
            group, _, origin = entry.key[len(topic) + 1:].partition("/")
            offset = offset_value(entry.value)
            if group and origin and offset is not None:
                committed.setdefault(group, {})[origin] = offset
        names = {g for (t, g) in self._members if t == topic} | committed.keys()
        heads = {p.origin: p.head for p in self._streams.partitions(topic)}
        out = []
        for name in sorted(names):
            offsets = committed.get(name, {})
            lag = sum(max(0, head - offsets.get(origin, 0)) for origin, head in heads.items())
            out.append(node_pb2.StreamGroup(name=name, consumers=sorted(self._members.get((topic, name), ())),
                                            committed=offsets, lag=lag))
        return out

    def counters(self) -> dict[str, int]:
        """For `micro node status`: events delivered, redelivered, acked, nacked and dead-lettered here,
        acks for events not in flight, commits, rebalances, failed reads and bad records, and the local
        and remote consumers now."""
        counts = {name: 0 for name in ("delivered", "redelivered", "acked", "nacked", "unknown_acks",
                                       "dead_lettered", "dead_letter_failures", "commits", "commit_failures",
                                       "rebalances", "read_failures", "dropped_records")}
        counts.update(self.stats)
        counts.update(local=len(self._local), remote=len(self._remote))
        return {f"consumers.{name}": count for name, count in sorted(counts.items())}

    async def close(self) -> None:
        self._unwatch()
        for session in list(self._local.values()):
            await session.close()
        await asyncio.gather(*self._closing, return_exceptions=True)

