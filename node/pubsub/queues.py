"""The two bounded queues of pubsub: what waits for one local subscriber, and what waits for one peer.

Both are at most once and never push back on the publisher: a message that does not fit is dropped and
counted, so a subscriber that stops reading, or a peer that is slow or down, costs bounded memory and
slows no one else. A subscriber's queue is drained by its `Subscribe` stream in batches; a peer's by
one long-lived client stream `Peer.Publish` (opened on demand, closed when idle, reopened after a short
backoff when it fails, dropping what was in flight).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from typing import TypeVar

import grpc

from ...identity.keyring import Keyring
from ..api.names import node_id_text
from ..api.proto import node_pb2, node_pb2_grpc
from ..frames import seal
from ..log import Logger
from ..runtime import Runtime
from ..transport import NetTransport

__all__ = ["PeerLinks", "Subscriber", "message_size"]

# A batch (a `PubsubBatch` to a subscriber, a `PeerPublishBatch` to a peer) holds at most this many
# messages, or this many bytes, except that one message always fits.
BATCH_MESSAGES = 256
BATCH_BYTES = 1 << 20
# What a subscriber may hold in bytes, whatever its message limit.
SUBSCRIBER_BYTES = 64 << 20
# Bytes waiting for one peer, beyond which new messages to it are dropped.
PEER_QUEUE_BYTES = 16 << 20
# An idle peer stream is closed after this; a failed one is not reopened before the backoff.
PEER_IDLE_S = 30.0
PEER_BACKOFF_S = 0.5
# Protobuf framing and the fixed fields, roughly: only for the byte caps.
_OVERHEAD = 64

_T = TypeVar("_T")


def message_size(message: node_pb2.PubsubMessage) -> int:
    """What a message weighs against the byte caps (its variable parts and a fixed overhead)."""
    size = len(message.data) + len(message.topic) + len(message.publisher) + _OVERHEAD
    if message.headers:  # most messages have none: skip the map's item view
        size += sum(len(k) + len(v) for k, v in message.headers.items())
    return size


def _take(queue: collections.deque[tuple[_T, int]]) -> tuple[list[_T], int]:
    """Up to a batch of items from the front of `queue`, and their bytes."""
    items: list[_T] = []
    size = 0
    while queue and len(items) < BATCH_MESSAGES:
        item, weight = queue[0]
        if items and size + weight > BATCH_BYTES:
            break
        queue.popleft()
        items.append(item)
        size += weight
    return items, size


class Subscriber:
    """One local subscription: its pattern, group, and the messages waiting for its stream."""

    def __init__(self, pattern: str, group: str, limit: int) -> None:
        self.pattern = pattern
        self.group = group
        self.limit = limit
        self.dropped = 0
        self._queue: collections.deque[tuple[node_pb2.PubsubMessage, int]] = collections.deque()
        self._bytes = 0
        self._ready = asyncio.Event()

    def has_room(self, size: int) -> bool:
        return len(self._queue) < self.limit and self._bytes + size <= SUBSCRIBER_BYTES

    def offer(self, message: node_pb2.PubsubMessage, size: int) -> bool:
        """Queue a message; False (and counted in `dropped`) when the queue is full."""
        if not self.has_room(size):
            self.dropped += 1
            return False
        self._queue.append((message, size))
        self._bytes += size
        self._ready.set()
        return True

    async def next_batch(self) -> node_pb2.PubsubBatch:
        """The messages waiting (up to a batch), once there is at least one."""
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        messages, size = _take(self._queue)
        self._bytes -= size
        return node_pb2.PubsubBatch(messages=messages, dropped=self.dropped)


class _Link:
    __slots__ = ("bytes", "queue", "retry_at", "task", "wake")

    def __init__(self) -> None:
        self.queue: collections.deque[tuple[node_pb2.PeerPublish, int]] = collections.deque()
        self.bytes = 0
        self.task: asyncio.Task[None] | None = None
        self.retry_at = 0.0
        self.wake = asyncio.Event()


class PeerLinks:
    """Outgoing pubsub streams, one per destination node. `stats` is the pubsub counters (`sent_peer`,
    `dropped_peer`, `link_failures` are counted here)."""

    def __init__(self, runtime: Runtime, transport: NetTransport, keyring: Callable[[], Keyring],
                 stats: collections.Counter[str], logger: Logger) -> None:
        self._runtime = runtime
        self._log = logger
        self._transport = transport
        self._keyring = keyring
        self._stats = stats
        self._links: dict[bytes, _Link] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._links)

    def send(self, node_id: bytes, item: node_pb2.PeerPublish, size: int) -> bool:
        """Queue `item` for the node; False (counted) when its queue is full or its link is backing off."""
        link = self._links.get(node_id)
        if link is None:
            link = self._links[node_id] = _Link()
        if link.task is None and self._runtime.now() < link.retry_at:
            self._stats["dropped_peer"] += 1
            return False
        if link.bytes + size > PEER_QUEUE_BYTES:
            self._stats["dropped_peer"] += 1
            return False
        link.queue.append((item, size))
        link.bytes += size
        if link.task is None:
            link.task = asyncio.get_running_loop().create_task(self._run(node_id, link))
        link.wake.set()
        return True

    async def close(self) -> None:
        self._closed = True
        tasks = [link.task for link in self._links.values() if link.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._links.clear()

    async def _run(self, node_id: bytes, link: _Link) -> None:
        """Drain the link's queue into one client stream until it is idle or fails."""
        in_flight = 0
        address = ""
        call: grpc.aio.StreamUnaryCall | None = None
        try:
            address = self._runtime.member_address(node_id)
            if not address:
                raise ConnectionError("the node is no longer a member")
            call = node_pb2_grpc.PeerStub(self._transport.channel(address)).Publish()
            while True:
                if not link.queue:
                    link.wake.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(link.wake.wait(), PEER_IDLE_S)
                    if not link.queue:
                        break
                    continue
                items, size = _take(link.queue)
                link.bytes -= size
                in_flight = len(items)
                batch = node_pb2.PeerPublishBatch(messages=items)
                await call.write(seal(self._keyring(), self._transport.source, batch))
                self._stats["sent_peer"] += in_flight
                in_flight = 0
            await call.done_writing()
            await call
        except (grpc.RpcError, asyncio.InvalidStateError, ConnectionError) as exc:
            # At most once: what was in flight or waiting is lost; the next publish after the backoff
            # opens a new stream.
            lost = in_flight + len(link.queue)
            self._stats["link_failures"] += 1
            self._stats["dropped_peer"] += lost
            reason = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
            self._log.info("pubsub.link_failed", node=node_id_text(node_id), lost=lost, error=reason or repr(exc))
            link.queue.clear()
            link.bytes = 0
            link.retry_at = self._runtime.now() + PEER_BACKOFF_S
            if address and self._transport.channel(address).get_state() == grpc.ChannelConnectivity.TRANSIENT_FAILURE:
                # The peer is down: a channel in reconnect backoff would fail fast for seconds after it
                # is back, so the next stream starts on a fresh one (as the router does).
                self._transport.evict(address)
        finally:
            if call is not None and not call.done():
                call.cancel()
            link.task = None
            if link.queue and not self._closed:
                # Queued while the idle stream was closing: a new stream takes them.
                link.task = asyncio.get_running_loop().create_task(self._run(node_id, link))
            elif not link.queue and self._runtime.now() >= link.retry_at:
                self._links.pop(node_id, None)
