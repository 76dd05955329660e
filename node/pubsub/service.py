"""Pubsub in the node, at most once (like NATS core): subscriptions are node-owned state, and a publish
goes from the publishing node straight to each node with a matching subscription.

Each distinct (pattern, group) subscribed here is one owned entry, `sub/<hash>` = CBOR `[pattern, group,
local subscriber count]`, set when its first local subscriber arrives and deleted when its last leaves.
Every node indexes the others' entries (from `OwnedStateChanged`; the core drops a dead or departed
member's entries with events, so its subscriptions go with it) in a `subjects.Patterns`.

A publish matches its topic against the remote index and the local subscribers; where it goes is
decided by `routes.Route` (kept per topic until a subscription changes). Each node with a matching plain
subscription gets the message once (it fans out to its own subscribers); each queue group with matching
members anywhere gets it at exactly one node, chosen round-robin weighted by the members each node
reported (local members included), which hands it to one of its matching members. A destination gets
one `PeerPublish` naming its part (`plain`, `groups`), queued on its peer link (`queues.PeerLinks`).
The receiver matches again against its own subscribers, since the index may be stale, and drops what
no longer matches. Subscribers' queues are bounded (`queues`).
"""

from __future__ import annotations

import collections
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any

import cbor2
from google.protobuf.message import DecodeError

from ...identity.errors import IdentityError
from ...identity.keyring import Keyring
from ...mesh import OwnedStateChanged
from ..api.errors import InvalidArgument, NodeError, refusal
from ..api.proto import node_pb2
from ..api.subjects import Patterns, check_group, check_pattern, check_topic
from ..frames import unseal
from ..log import Logger
from ..runtime import Runtime
from ..transport import NetTransport
from .ordering import Sequencer
from .queues import PeerLinks, Subscriber, message_size
from .routes import Route, Turns, pick_member

__all__ = ["DEFAULT_QUEUE_LIMIT", "KEY_PREFIX", "MAX_HEADERS", "MAX_PAYLOAD", "MAX_QUEUE_LIMIT", "Pubsub", "check_message"]

KEY_PREFIX = "sub/"
MAX_PAYLOAD = 1 << 20
"""Bytes of data in one message at most."""
MAX_HEADERS = 64 << 10
"""Bytes of header names and values in one message at most (a message must fit one peer frame)."""
DEFAULT_QUEUE_LIMIT = 10_000
MAX_QUEUE_LIMIT = 1_000_000
_LOCAL = b""
"""The key of this node among a group's nodes in a `Route`."""
_MAX_ROUTES = 4096
"""Topics whose routes are kept; beyond this they are worked out afresh."""


def _record_key(pattern: str, group: str) -> str:
    digest = hashlib.blake2b(f"{pattern}\0{group}".encode(), digest_size=12).hexdigest()
    return KEY_PREFIX + digest


def check_message(topic: str, data: bytes, headers: Mapping[str, str]) -> None:
    """InvalidArgument unless a message (or a stream event) may be published: a valid topic, data within
    `MAX_PAYLOAD` and headers within `MAX_HEADERS`."""
    check_topic(topic)
    if len(data) > MAX_PAYLOAD:
        raise InvalidArgument(f"the message on {topic} is {len(data)} bytes; at most "
                              f"{MAX_PAYLOAD} (1 MiB) may be published")
    size = sum(len(k) + len(v) for k, v in headers.items()) if headers else 0
    if size > MAX_HEADERS:
        raise InvalidArgument(f"the headers of the message on {topic} are {size} bytes; at most "
                              f"{MAX_HEADERS} are allowed")


class _Remote:
    """A remote node's subscription record, as filed in the index."""

    __slots__ = ("count", "group", "node_id", "pattern")

    def __init__(self, node_id: bytes, pattern: str, group: str, count: int) -> None:
        self.node_id = node_id
        self.pattern = pattern
        self.group = group
        self.count = count


def _decode(node_id: bytes, value: bytes) -> _Remote:
    """A remote record; raises ValueError/TypeError (or a CBOR/InvalidArgument error) when malformed."""
    fields: Any = cbor2.loads(value)
    if not isinstance(fields, list) or len(fields) != 3:
        raise ValueError("not a subscription record")
    pattern, group, count = fields
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("subscriber count")
    return _Remote(node_id, check_pattern(pattern), check_group(group, "queue group"), count)


class Pubsub:
    """Publishes from the local API (and the in-process gateway), subscriptions of local clients, and
    messages that other nodes forward here. `keyring` returns the mesh's current gossip keyring."""

    def __init__(self, runtime: Runtime, transport: NetTransport, node_id: str,
                 keyring: Callable[[], Keyring], logger: Logger) -> None:
        self._runtime = runtime
        self._node_id = node_id
        self._keyring = keyring
        self._local = Patterns()
        self._local_count = 0
        self._records: collections.Counter[str] = collections.Counter()  # owned key -> local subscribers
        self._remote = Patterns()
        self._remote_records: dict[tuple[bytes, str], _Remote] = {}
        self._routes: dict[str, tuple[tuple[Subscriber, ...], Route[bytes]]] = {}
        """By topic, the matching local subscribers and the route, until a subscription here or a remote
        record changes (each such change clears it)."""
        # Round-robin positions per group: over nodes (publishing) and over local members (delivering).
        self._turns = Turns()
        self._order = Sequencer()
        self._member_turns = Turns()
        self.stats: collections.Counter[str] = collections.Counter()
        self._links = PeerLinks(runtime, transport, keyring, self.stats, logger)

    # ---- publishing ---------------------------------------------------------------------------------

    def publish(self, request: node_pb2.PublishRequest) -> node_pb2.PublishReply:
        """Deliver to local subscribers and queue for the nodes with matching subscriptions; never waits.
        Raises InvalidArgument (nothing sent) for a bad topic, payload or headers."""
        topic = request.topic
        check_message(topic, request.data, request.headers)
        cached = self._routes.get(topic)
        local, route = cached if cached is not None else self._route(topic)
        local_groups, destinations = route.choose(self._turns)
        self.stats["published"] += 1
        nodes = 0
        message: node_pb2.PubsubMessage | None = None
        size = 0
        for node_id, plain, groups in destinations:
            item = node_pb2.PeerPublish(plain=plain)
            if groups:  # an empty list would be copied in too
                item.groups.extend(groups)
            if message is None:  # the first destination's copy is built in place, not copied in
                message = self._message(item.message, request)
                size = message_size(message)
            else:
                item.message.CopyFrom(message)
            nodes += self._links.send(node_id, item, size)
        if local_groups or route.plain_here:
            if message is None:
                message = self._message(node_pb2.PubsubMessage(), request)
                size = message_size(message)
            self._deliver(message, size, local, plain=True, groups=local_groups)
            nodes += 1
        return node_pb2.PublishReply(nodes=nodes)

    def _message(self, message: node_pb2.PubsubMessage, request: node_pb2.PublishRequest) -> node_pb2.PubsubMessage:
        """`message` filled in from `request`, as published here now."""
        message.topic = request.topic
        message.data = request.data
        message.publisher = self._node_id
        message.published_at = time.time()
        if request.headers:  # copying an empty map still costs: most messages have no headers
            message.headers.update(request.headers)
        return message

    def _route(self, topic: str) -> tuple[tuple[Subscriber, ...], Route[bytes]]:
        if len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
        local = self._matching_local(topic)
        remote: tuple[_Remote, ...] = self._remote.match(topic)  # type: ignore[assignment]
        route = Route(_LOCAL, (sub.group for sub in local), ((r.node_id, r.group, r.count) for r in remote))
        cached = self._routes[topic] = (local, route)
        return cached

    async def publish_many_in_order(self, request: node_pb2.PublishManyRequest) -> node_pb2.PublishManyReply:
        """`publish_many`, after the sender's earlier calls when it numbers them (`ordering`)."""
        if not request.sender:
            return self.publish_many(request)
        await self._order.turn(request.sender, request.sequence)
        try:
            return self.publish_many(request)
        finally:
            self._order.done(request.sender, request.sequence)

    def publish_many(self, request: node_pb2.PublishManyRequest) -> node_pb2.PublishManyReply:
        """Each message published on its own; a refused one is answered with its error. With
        `failures_only`, only the refused ones are answered (with their `index`)."""
        results = []
        quiet = request.failures_only
        for index, message in enumerate(request.messages):
            try:
                nodes = self.publish(message).nodes
            except NodeError as exc:
                code, text = refusal(exc)
                results.append(node_pb2.PublishResult(code=code, message=text, index=index))
                continue
            if not quiet:
                results.append(node_pb2.PublishResult(nodes=nodes, index=index))
        return node_pb2.PublishManyReply(results=results)

    # ---- delivering here ----------------------------------------------------------------------------

    def _matching_local(self, topic: str) -> tuple[Subscriber, ...]:
        return self._local.match(topic)  # type: ignore[return-value]

    def _deliver(self, message: node_pb2.PubsubMessage, size: int, local: Iterable[Subscriber], plain: bool,
                 groups: Iterable[str]) -> None:
        """Into the queues of the matching plain subscribers (with `plain`) and of one matching member of
        each of `groups` (the next in turn that has room)."""
        members: dict[str, list[Subscriber]] = {}
        delivered = False
        for sub in local:
            if sub.group:
                members.setdefault(sub.group, []).append(sub)
            elif plain:
                delivered = True
                self._offer(sub, message, size)
        for group in groups:
            candidates = members.get(group)
            if not candidates:
                continue
            delivered = True
            member = pick_member(candidates, self._member_turns.take(group), lambda sub: sub.has_room(size))
            self._offer(member, message, size)
        if not delivered:
            self.stats["unmatched"] += 1

    def _offer(self, sub: Subscriber, message: node_pb2.PubsubMessage, size: int) -> None:
        if sub.offer(message, size):
            self.stats["delivered"] += 1
        else:
            self.stats["dropped_slow"] += 1

    async def serve_peer(self, frames: AsyncIterator[node_pb2.Frame]) -> node_pb2.Empty:
        """`Peer.Publish`: every frame opened and delivered; a frame that does not open is counted."""
        async for frame in frames:
            try:
                batch = unseal(self._keyring(), frame, node_pb2.PeerPublishBatch)
            except (IdentityError, DecodeError):
                self.stats["dropped_frames"] += 1
                continue
            for item in batch.messages:
                self.stats["received_peer"] += 1
                message = item.message
                self._deliver(message, message_size(message), self._matching_local(message.topic),
                              item.plain, item.groups)
        return node_pb2.Empty()

    # ---- subscriptions ------------------------------------------------------------------------------

    async def subscribe(self, topic: str, group: str = "", queue_limit: int = 0,
                        registered: Callable[[], Awaitable[None]] | None = None
                        ) -> AsyncIterator[node_pb2.PubsubBatch]:
        """Batches of messages for a new subscription while iterated; closing it unsubscribes. Raises
        InvalidArgument (on the first step, nothing registered) for a bad pattern, group or limit.
        `registered` is awaited once the subscription is in place (the local API then sends the
        stream's headers, so a client knows when publishes here reach it)."""
        pattern = check_pattern(topic)
        check_group(group, "queue group")
        if not 0 <= queue_limit <= MAX_QUEUE_LIMIT:
            raise InvalidArgument(f"queue_limit is at most {MAX_QUEUE_LIMIT} messages (0: {DEFAULT_QUEUE_LIMIT})")
        sub = Subscriber(pattern, group, queue_limit or DEFAULT_QUEUE_LIMIT)
        self._add(sub)
        try:
            if registered is not None:
                await registered()
            while True:
                yield await sub.next_batch()
        finally:
            self._remove(sub)

    def _add(self, sub: Subscriber) -> None:
        self._local.add(sub.pattern, sub)
        self._routes.clear()
        self._local_count += 1
        key = _record_key(sub.pattern, sub.group)
        self._records[key] += 1
        self._publish_record(key, sub)

    def _remove(self, sub: Subscriber) -> None:
        self._local.remove(sub.pattern, sub)
        self._routes.clear()
        self._local_count -= 1
        key = _record_key(sub.pattern, sub.group)
        self._records[key] -= 1
        if self._records[key] <= 0:
            del self._records[key]
            self._runtime.set_local(key, None)
        else:
            self._publish_record(key, sub)

    def _publish_record(self, key: str, sub: Subscriber) -> None:
        self._runtime.set_local(key, cbor2.dumps([sub.pattern, sub.group, self._records[key]]))

    def on_owned(self, event: OwnedStateChanged) -> None:
        """A remote node's subscription record changed (None: deleted, or the node is gone)."""
        if not event.key.startswith(KEY_PREFIX):
            return
        self._routes.clear()
        old = self._remote_records.pop((event.node_id, event.key), None)
        if old is not None:
            self._remote.remove(old.pattern, old)
        if event.value is None:
            return
        try:
            record = _decode(event.node_id, event.value)
        except (cbor2.CBORDecodeError, ValueError, TypeError, InvalidArgument, RecursionError):
            self.stats["dropped_records"] += 1
            return
        self._remote_records[(event.node_id, event.key)] = record
        self._remote.add(record.pattern, record)

    def rebuilt(self) -> None:
        """The core was replaced (another mesh): forget the old mesh's subscriptions, publish ours anew."""
        self._remote = Patterns()
        self._remote_records.clear()
        self._routes.clear()
        published: set[str] = set()
        for value in self._local.values():
            sub: Subscriber = value  # type: ignore[assignment]
            key = _record_key(sub.pattern, sub.group)
            if key not in published:
                published.add(key)
                self._publish_record(key, sub)

    # ---- views --------------------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """For `micro node status`: messages published here, delivered to local subscribers, dropped for
        slow subscribers or full/failed peer links, received from and sent to peers, bad frames and
        records, and the subscriptions (local and remote records) and peer links now."""
        counts = {name: 0 for name in ("published", "delivered", "dropped_slow", "dropped_peer", "received_peer",
                                       "sent_peer", "dropped_frames", "dropped_records", "unmatched",
                                       "link_failures")}
        counts.update(self.stats)
        counts.update(subscriptions=self._local_count, remote_subscriptions=len(self._remote_records),
                      links=len(self._links), calls_overtaken=self._order.overtaken,
                      calls_without_predecessor=self._order.gave_up)
        return {f"pubsub.{name}": count for name, count in sorted(counts.items())}

    async def close(self) -> None:
        await self._links.close()
