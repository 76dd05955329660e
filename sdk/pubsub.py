"""Pubsub, at most once (like NATS core), through the local node.

    async with pubsub.Pubsub() as bus:
        nodes = await bus.publish("orders.eu.created", {"id": 7})     # bytes, or any JSON value
        async with bus.subscribe("orders.*.created", group="billing") as messages:  # registered once entered
            async for message in messages:                            # Message(topic, data, headers, ...)
                order = message.json()

A publish goes from the local node straight to each node with a matching subscription and returns the
number of nodes it was sent to (0: nobody listens). Nothing is stored or retried: a subscriber that is
not there, or does not keep up, misses messages (`Subscription.dropped` counts the ones its queue lost).
In a queue group each message reaches one member, mesh-wide.

Topics are checked here before anything is sent (`node.subjects`): a bad one is a `BadRequest` that
names the problem. Concurrent publishes of one `Pubsub` ride together in `PublishMany` calls, a few in
flight at once, and each is still answered on its own. A publisher that needs no answer (as with NATS
core) uses `send` and, when it wants to know all went, `flush`:

        for reading in readings:
            await bus.send("sensors.t1", reading)                      # queued; waits only on a backlog
        await bus.flush()                                             # all answered; raises a failure
"""

from __future__ import annotations

import base64
import collections
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from ..node.api.errors import InvalidArgument
from ..node.api.proto import node_pb2
from ..node.api.strict_json import decode
from ..node.api.subjects import check_pattern, check_topic
from .batching import Batcher
from .channel import NODE_ID, NodeUser, Stream
from .errors import MicroError, bad_request, of_status, unavailable

__all__ = ["SEND_BACKLOG", "Message", "Pubsub", "Subscription", "encode"]

SEND_BACKLOG = 16_384
"""Messages `Pubsub.send` lets go unanswered before it waits for the node."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message as a subscriber receives it."""

    topic: str
    """The topic it was published on (a subscription's wildcards resolved)."""
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    publisher: str = ""
    """The id (N...) of the node it was published through."""
    published_at: float = 0.0
    """The publishing node's wall clock, seconds since the epoch."""

    @classmethod
    def from_proto(cls, message: node_pb2.PubsubMessage) -> Message:
        return cls(message.topic, bytes(message.data), dict(message.headers) if message.headers else {},
                   message.publisher, message.published_at)

    def json(self) -> Any:
        """The payload decoded as JSON (ValueError when it is not: see `micro.node.api.strict_json`)."""
        return decode(self.data)

    def to_object(self) -> dict[str, Any]:
        """The message as the CLI and the gateway print it: the payload as `data` when it is UTF-8 JSON,
        else as `data_base64`."""
        shown: dict[str, Any] = {"topic": self.topic, "headers": self.headers, "publisher": self.publisher,
                                 "published_at": self.published_at}
        try:
            shown["data"] = self.json()
        except ValueError:
            shown["data_base64"] = base64.b64encode(self.data).decode("ascii")
        return shown


def encode(data: Any) -> bytes:
    """A payload's bytes: bytes as they are, anything else as compact JSON in UTF-8. ValueError for a
    number that is no JSON (NaN, an infinity); a lone surrogate in a string is written as its escape."""
    if type(data) is bytes:
        return data
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except UnicodeEncodeError:
        return json.dumps(data, separators=(",", ":"), allow_nan=False).encode()


Outgoing = tuple[str, bytes, dict[str, str] | None]
"""A message or event waiting for its many-in-one call: (topic, payload, headers). A tuple, not a
`PublishRequest`: the call's request then builds each one once, in place (`fill`), instead of copying
one built here (which cost the sending process a third of its CPU per message)."""


def outgoing_size(message: Outgoing) -> int:
    """The payload bytes of a waiting message, as the batcher counts them."""
    return len(message[1])


def outgoing(topic: str, data: Any, headers: Mapping[str, str] | None) -> Outgoing:
    """A message to publish, checked as far as the SDK can (a topic without wildcards; headers are
    strings): a bad one fails its own call, not the batch it would have gone out in."""
    checked = dict(headers) if headers else None
    if checked and not all(type(name) is str and type(value) is str for name, value in checked.items()):
        raise bad_request(NODE_ID, "message headers are strings, names and values")
    checked_topic = _checked(check_topic, topic)
    try:
        return checked_topic, encode(data), checked
    except ValueError as exc:
        raise bad_request(NODE_ID, f"the payload is not JSON: {exc}") from None


def fill(requests: Any, messages: list[Outgoing]) -> None:
    """Add `messages` to a repeated field of `PublishRequest`s or `StreamPublishRequest`s (the same
    fields), each built in place."""
    add = requests.add
    for topic, data, headers in messages:
        # headers=None, not {}: protobuf copies even an empty map, a third of building the message.
        add(topic=topic, data=data, headers=headers)


def _checked(check: Callable[[object], str], topic: str) -> str:
    """`topic` if `check` passes it, else the SDK's BadRequest with the check's words."""
    try:
        return check(topic)
    except InvalidArgument as exc:
        raise bad_request(NODE_ID, str(exc)) from None


class Subscription:
    """The messages of one subscription, an async iterator; registered on the node once `async with` is
    entered (a bare `async for` registers on the first read). Leaving, or `close`, unsubscribes."""

    def __init__(self, stream: Stream[node_pb2.PubsubBatch]) -> None:
        self._stream = stream
        self._ready: collections.deque[node_pb2.PubsubMessage] = collections.deque()
        self.dropped = 0
        """Messages this subscription has lost so far because its queue on the node was full."""

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Message:
        while not self._ready:
            batch = await self._stream.__anext__()
            self.dropped = batch.dropped
            self._ready.extend(batch.messages)
        return Message.from_proto(self._ready.popleft())

    async def __aenter__(self) -> Self:
        await self._stream.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stream.close()


class Pubsub(NodeUser):
    """Publishes and subscribes through the node of a data dir (argument, else MICRO_DATA_DIR, else
    ~/.micro), on one channel kept open until `close`."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(data_dir)
        self._publisher = Batcher(self._publish_many, outgoing_size)
        self._sender = Batcher(self._send_many, outgoing_size, self._sent_failed)
        """For `send`: its calls ask the node to answer only the refused messages."""
        self._sender_id = os.urandom(16)
        self._sent_calls = 0
        self._failed: MicroError | None = None
        self.failed = 0
        """Messages of `send` the node refused or never got (see `flush`)."""

    async def publish(self, topic: str, data: Any, headers: Mapping[str, str] | None = None) -> int:
        """Publish `data` (bytes, or a JSON value sent as compact JSON) on `topic` (no wildcards); the
        number of nodes it was sent to, 0 when nobody subscribes. BadRequest for a bad topic or a
        payload over the node's limit (1 MiB)."""
        return await self._publisher.submit(outgoing(topic, data, headers))

    async def send(self, topic: str, data: Any, headers: Mapping[str, str] | None = None) -> None:
        """Publish without waiting for the node's answer, as NATS core's publish does: the message is
        queued and goes with the others in `PublishMany` calls, which the node applies in the order they
        were made, so the messages sent through one `Pubsub` keep their order. BadRequest for a bad topic at once; a
        message the node refuses or never gets is counted in `failed`, and the next `flush` raises the
        first such error. Waits only while `SEND_BACKLOG` messages are unanswered (a node that cannot
        keep up slows the sender instead of filling its memory)."""
        self._sender.post(outgoing(topic, data, headers))
        if self._sender.unanswered > SEND_BACKLOG:
            await self._sender.answered(SEND_BACKLOG // 2)

    async def flush(self) -> None:
        """Return once every message sent so far is answered; raise the first failure since the last
        flush (a `MicroError`), if any."""
        await self._sender.answered()
        failed, self._failed = self._failed, None
        if failed is not None:
            raise failed

    async def close(self) -> None:
        """Wait for the answers to what was sent (as NATS's close flushes), then close the channel."""
        await self._sender.answered()
        await super().close()

    def _sent_failed(self, error: Exception) -> None:
        self.failed += 1
        if self._failed is None:
            self._failed = error if isinstance(error, MicroError) else unavailable(NODE_ID, str(error))

    async def _publish_many(self, messages: list[Outgoing]) -> list[int | MicroError]:
        request = node_pb2.PublishManyRequest()
        fill(request.messages, messages)
        reply = await self._node.call(self._node.stub.PublishMany, request)
        return [of_status(NODE_ID, result.code, result.message) if result.code else result.nodes
                for result in reply.results]

    async def _send_many(self, messages: list[Outgoing]) -> list[int | MicroError]:
        # Numbered, so the node applies the calls in flight together in the order they were sent.
        self._sent_calls += 1
        request = node_pb2.PublishManyRequest(failures_only=True, sender=self._sender_id, sequence=self._sent_calls)
        fill(request.messages, messages)
        reply = await self._node.call(self._node.stub.PublishMany, request)
        outcomes: list[int | MicroError] = [0] * len(messages)
        for result in reply.results:
            if result.code and result.index < len(outcomes):
                outcomes[result.index] = of_status(NODE_ID, result.code, result.message)
        return outcomes

    def subscribe(self, topic: str, group: str | None = None, queue_limit: int = 0) -> Subscription:
        """Messages on topics matching `topic` (`*`: one token, a final `>`: the rest). With `group`,
        each message reaches one subscriber of the group mesh-wide. The node holds up to `queue_limit`
        messages for a slow subscriber (0: its default) and drops the rest."""
        request = node_pb2.SubscribeRequest(topic=_checked(check_pattern, topic), group=group or "",
                                            queue_limit=queue_limit)
        return Subscription(self._node.stream(self._node.stub.Subscribe, request, lambda batch: batch))
