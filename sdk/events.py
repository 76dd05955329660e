"""Event streams, at least once (like JetStream or Micro's events), through the local node.

    async with events.Events() as ev:
        origin, offset = await ev.publish("orders.created", {"id": 7})   # bytes, or any JSON value
        async with ev.consume("orders.created", group="billing", from_start=True) as stream:
            async for event in stream:                    # Event(topic, origin, offset, data, attempt, ...)
                handle(event.json())
                await event.ack()                         # or nack(): delivered again at once

A publish is answered once the event is in the local node's log (its partition of the topic) and in its
replicas' logs; it returns the partition (`origin`, the node's id) and the event's `offset` there.
Concurrent publishes of one `Events` ride together in `StreamPublishMany` calls, a few in flight at once
(`sdk.batching`), and each is still answered on its own.

A consumer reads the topic in a group: each partition goes to one consumer of the group mesh-wide, and an
event not acked within `ack_wait` (or nacked) comes again with `attempt` + 1, until `max_retries`
deliveries move it to `TOPIC.dead`. A group with no committed position starts at new events, or per
`from_start`, `offset` or `since` (at most one); without a group the consumer is alone and commits
nothing. Acks travel on the consumer's own stream; leaving `async with` stops sending (a half-close), on
which the node takes the last acks, commits the group's position and ends the stream; the consumer waits
for that end (up to `_CLOSE_WAIT`) before it lets go. What was not acked by then is delivered again.

Options are checked here before anything is sent: a bad topic or option is a `BadRequest`.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Self

import grpc

from ..node.api.errors import InvalidArgument
from ..node.api.limits import MAX_ACK_WAIT, MAX_IN_FLIGHT, MAX_RETRIES
from ..node.api.proto import node_pb2
from ..node.api.subjects import check_topic
from .batching import Batcher
from .channel import NODE_ID, NodeChannel, NodeUser, Stream
from .errors import MicroError, bad_request, of_status
from .pubsub import Message, Outgoing, fill, outgoing, outgoing_size

__all__ = ["Consumer", "Event", "Events", "Published", "consume_start"]

_CLOSE_WAIT = 5.0
"""Seconds a closing consumer waits for the node to commit and end the stream before cancelling it."""


class Published(NamedTuple):
    """Where a published event went: its partition (the origin node's id) and its offset there."""

    origin: str
    offset: int


@dataclass(frozen=True, slots=True)
class Event:
    """One event as a consumer receives it; `ack` or `nack` it once handled."""

    topic: str
    origin: str
    """The id (N...) of the node whose log holds it: its partition."""
    offset: int
    """1, 2, 3... within the partition."""
    published_at: float
    """The origin's wall clock when it was published, seconds since the epoch."""
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1
    """The delivery attempt to this group, from 1."""
    _consumer: Consumer | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_proto(cls, event: node_pb2.StreamEvent, consumer: Consumer | None = None) -> Event:
        return cls(event.topic, event.origin, event.offset, event.published_at, bytes(event.data),
                   dict(event.headers) if event.headers else {}, event.attempt, consumer)

    def json(self) -> Any:
        """The payload decoded as JSON (ValueError when it is not)."""
        return Message(self.topic, self.data).json()

    def to_object(self) -> dict[str, Any]:
        """The event as the CLI prints it: the payload as `data` when it is UTF-8 JSON, else `data_base64`."""
        shown = Message(self.topic, self.data, self.headers).to_object()
        del shown["publisher"]
        shown.update(origin=self.origin, offset=self.offset, published_at=self.published_at, attempt=self.attempt)
        return shown

    async def ack(self) -> None:
        """Done with it: the group will not see it again."""
        if self._consumer is not None:
            await self._consumer.ack(self.origin, self.offset)

    async def nack(self) -> None:
        """Not done: deliver it again now (another attempt)."""
        if self._consumer is not None:
            await self._consumer.ack(self.origin, self.offset, nack=True)


def _since(value: float | datetime.datetime) -> float:
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return value.timestamp()
    return float(value)


def consume_start(topic: str, group: str | None = None, *, from_start: bool = False, offset: int | None = None,
                  since: float | datetime.datetime | None = None, ack_wait: float | None = None,
                  max_retries: int | None = None, auto_ack: bool = False,
                  max_in_flight: int | None = None) -> node_pb2.StreamConsumeStart:
    """The first message of a StreamConsume, checked: `InvalidArgument` names a bad option."""
    start = node_pb2.StreamConsumeStart(topic=check_topic(topic), group=group or "", auto_ack=auto_ack)
    if sum((from_start, offset is not None, since is not None)) > 1:
        raise InvalidArgument("choose one of from_start, offset and since")
    if from_start:
        start.from_start = True
    elif offset is not None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 1:
            raise InvalidArgument(f"offset is {offset!r}; offsets start at 1")
        start.offset = offset
    elif since is not None:
        seconds = _since(since)
        if not (math.isfinite(seconds) and seconds >= 0):
            raise InvalidArgument(f"since is {since!r}; it is a time (seconds since the epoch, or a datetime)")
        start.since = seconds
    if ack_wait is not None:
        if not (math.isfinite(ack_wait) and 0 < ack_wait <= MAX_ACK_WAIT):
            raise InvalidArgument(f"ack_wait is {ack_wait!r}; it is more than 0 and at most {MAX_ACK_WAIT:g} seconds")
        start.ack_wait_s = ack_wait
    if max_retries is not None:
        if not 1 <= max_retries <= MAX_RETRIES:
            raise InvalidArgument(f"max_retries is {max_retries!r}; it is 1 to {MAX_RETRIES}")
        start.max_retries = max_retries
    if max_in_flight is not None:
        if not 1 <= max_in_flight <= MAX_IN_FLIGHT:
            raise InvalidArgument(f"max_in_flight is {max_in_flight!r}; it is 1 to {MAX_IN_FLIGHT}")
        start.max_in_flight = max_in_flight
    return start


class Consumer:
    """The events of one consumer, an async iterator; registered in its group on the node once `async with`
    is entered (a bare `async for` registers on the first read). Leaving, or `close`, ends it."""

    def __init__(self, node: NodeChannel, start: node_pb2.StreamConsumeStart) -> None:
        self._node = node
        self._start = start
        self._call: Any = None
        self._stream: Stream[node_pb2.StreamEventBatch] | None = None
        self._ready: collections.deque[node_pb2.StreamEvent] = collections.deque()
        self._writing = asyncio.Lock()
        self._finishing = False
        self._closed = False

    async def _open(self) -> Stream[node_pb2.StreamEventBatch]:
        if self._stream is None:
            self._call = self._node.stub.StreamConsume()
            self._stream = Stream(self._node, self._call, lambda batch: batch)
            await self._write(node_pb2.StreamConsumeInput(start=self._start))
            await self._stream.__aenter__()
        return self._stream

    async def _write(self, message: node_pb2.StreamConsumeInput) -> None:
        async with self._writing:
            try:
                await self._call.write(message)
            except grpc.aio.AioRpcError as exc:
                raise self._node.error(exc) from None

    async def ack(self, origin: str, offset: int, nack: bool = False) -> None:
        """Ack (or nack) the event at `offset` of `origin`'s partition; nothing once the consumer is closed
        (the event then comes again)."""
        if self._closed or self._finishing or self._stream is None or self._start.auto_ack:
            return
        try:
            await self._write(node_pb2.StreamConsumeInput(ack=node_pb2.StreamAck(origin=origin, offset=offset,
                                                                                  nack=nack)))
        except (MicroError, asyncio.InvalidStateError):
            if not self._closed:
                raise

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        stream = await self._open()
        while not self._ready or self._finishing:
            batch = await stream.__anext__()  # StopAsyncIteration once a finishing node ends the stream
            if not self._finishing:
                self._ready.extend(batch.events)
        return Event.from_proto(self._ready.popleft(), self)

    async def __aenter__(self) -> Self:
        await self._open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def finish(self) -> None:
        """Stop consuming while another task may be reading: send no more acks (a half-close), after which
        the node commits what was acked and ends the stream, which ends the iteration. Events not yet
        handed out, or not acked by then, go back to the group."""
        if self._finishing or self._closed or self._call is None or self._call.done():
            return
        self._finishing = True
        self._ready.clear()
        try:
            async with self._writing:
                await self._call.done_writing()
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            self.close()

    async def aclose(self) -> None:
        """End the consumer: stop sending, wait until the node has committed the acks and ended the stream
        (events it sent meanwhile are dropped: not acked, they go back to the group), then let go."""
        if self._closed:
            return
        if self._call is not None and not self._call.done():
            try:
                if not self._finishing:
                    self._finishing = True
                    async with self._writing:
                        await self._call.done_writing()
                async with asyncio.timeout(_CLOSE_WAIT):
                    while await self._call.read() is not grpc.aio.EOF:
                        pass
            except (grpc.aio.AioRpcError, asyncio.InvalidStateError, TimeoutError):
                pass  # the stream failed or the node took too long: what was acked may come again
        self.close()

    def close(self) -> None:
        """End the consumer now; events not acked yet come again."""
        self._closed = True
        if self._stream is not None:
            self._stream.close()


class Events(NodeUser):
    """Publishes and consumes events through the node of a data dir (argument, else MICRO_DATA_DIR, else
    ~/.micro), on one channel kept open until `close`."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(data_dir)
        self._publisher = Batcher(self._publish_many, outgoing_size)

    async def publish(self, topic: str, data: Any, headers: Mapping[str, str] | None = None) -> Published:
        """Append `data` (bytes, or a JSON value sent as compact JSON) to `topic` (no wildcards) once it is
        replicated; where it went. BadRequest for a bad topic or a payload over 1 MiB; Unavailable when
        too few replicas took it (it is in the local log and will be copied)."""
        return await self._publisher.submit(outgoing(topic, data, headers))

    async def _publish_many(self, events: list[Outgoing]) -> list[Published | MicroError]:
        request = node_pb2.StreamPublishManyRequest()
        fill(request.events, events)
        reply = await self._node.call(self._node.stub.StreamPublishMany, request)
        return [of_status(NODE_ID, result.code, result.message) if result.code
                else Published(result.origin, result.offset) for result in reply.results]

    def consume(self, topic: str, group: str | None = None, *, from_start: bool = False, offset: int | None = None,
                since: float | datetime.datetime | None = None, ack_wait: float | None = None,
                max_retries: int | None = None, auto_ack: bool = False,
                max_in_flight: int | None = None) -> Consumer:
        """A consumer of `topic` in `group` (None: a private one). Where a partition with no committed
        position starts: new events (default), `from_start`, `offset` N, or `since` (epoch seconds or a
        datetime, UTC when naive). `ack_wait` seconds (default 30) before an unacked event comes again,
        `max_retries` deliveries (default 5) before it goes to TOPIC.dead, `auto_ack` to count an event
        done once sent, `max_in_flight` unacked events at most (default 1000)."""
        try:
            start = consume_start(topic, group, from_start=from_start, offset=offset, since=since,
                                  ack_wait=ack_wait, max_retries=max_retries, auto_ack=auto_ack,
                                  max_in_flight=max_in_flight)
        except InvalidArgument as exc:
            raise bad_request(NODE_ID, str(exc)) from None
        return Consumer(self._node, start)
