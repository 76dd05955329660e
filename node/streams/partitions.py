"""Which node holds what of every partition of every topic, mesh-wide: partition discovery for streams.

Each node publishes one node-owned entry per partition it holds, its own or a replica,
`stream/<hash of topic and origin>` = CBOR `[topic, origin, first, head]`. An entry is republished
when its partition moves, at most every `RECORD_INTERVAL_S` (a burst of publishes costs one gossip
update, not one per event). Every node files the others' entries (from `OwnedStateChanged`) by
partition and holder. When an origin dies the core drops its own entries, but its replicas' entries
stay: the partition is still known, with the holders that can serve it.

Watchers (`watch_heads`) are told when a partition's head moves, from this node's log or from another
holder's entry, with the topic, origin and the highest head known.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2

from ...mesh import OwnedStateChanged
from ..api.errors import InvalidArgument
from ..api.names import node_id_text
from ..api.subjects import check_topic
from ..runtime import Runtime
from .eventlog import EventLog

__all__ = ["KEY_PREFIX", "RECORD_INTERVAL_S", "HeadWatcher", "PartitionInfo", "PartitionView"]

KEY_PREFIX = "stream/"
RECORD_INTERVAL_S = 0.1

HeadWatcher = Callable[[str, str, int], None]
"""Called with (topic, origin, head) when the highest known head of a partition moves."""


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One partition as the mesh knows it: `first` retained and `head` (last) offsets, the nodes
    holding it (`holders`, the origin first when it holds it, each with its own (first, head)), and
    whether its origin is alive."""

    topic: str
    origin: str
    first: int
    head: int
    holders: dict[str, tuple[int, int]]
    origin_alive: bool


def record_key(topic: str, origin: str) -> str:
    return KEY_PREFIX + hashlib.blake2b(f"{topic}\0{origin}".encode(), digest_size=12).hexdigest()


def _decode(value: bytes) -> tuple[str, str, int, int]:
    """A remote entry; raises ValueError/TypeError (or a CBOR/InvalidArgument error) when malformed."""
    fields: Any = cbor2.loads(value)
    if not isinstance(fields, list) or len(fields) != 4:
        raise ValueError("not a stream partition record")
    topic, origin, first, head = fields
    if not isinstance(origin, str) or not all(isinstance(n, int) and n >= 0 for n in (first, head)):
        raise ValueError("stream partition record fields")
    return check_topic(topic), origin, first, head


class PartitionView:
    """This node's entries for the partitions in `log`, and the mesh-wide view from everyone's."""

    def __init__(self, runtime: Runtime, node_id: str, log: EventLog, stats: dict[str, int]) -> None:
        self._runtime = runtime
        self._node_id = node_id
        self._log = log
        self._stats = stats
        self._remote: dict[tuple[str, str], dict[str, tuple[int, int]]] = {}
        self._entries: dict[tuple[bytes, str], tuple[str, str]] = {}  # (holder, key) -> partition
        self._dirty: set[tuple[str, str]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._watchers: list[HeadWatcher] = []

    # ---- this node's entries --------------------------------------------------------------------

    def moved(self, topic: str, origin: str) -> None:
        """The partition moved in this node's log: tell watchers now, republish its entry soon."""
        self._notify(topic, origin)
        self._dirty.add((topic, origin))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(RECORD_INTERVAL_S, self._flush)

    def _flush(self) -> None:
        self._timer = None
        dirty, self._dirty = self._dirty, set()
        for topic, origin in sorted(dirty):
            part = self._log.partition(topic, origin)
            if part is not None and self._runtime.running:
                self._runtime.set_local(record_key(topic, origin), cbor2.dumps([topic, origin, part.first, part.head]))

    def rebuilt(self) -> None:
        """The core was replaced (another mesh): forget the old mesh's entries, publish ours anew."""
        self._remote.clear()
        self._entries.clear()
        for topic, origin, _ in self._log.held():
            self._dirty.add((topic, origin))
        self._flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # ---- everyone's entries ---------------------------------------------------------------------

    def on_owned(self, event: OwnedStateChanged) -> None:
        """A remote node's partition entry changed (None: deleted, or the node is gone)."""
        if not event.key.startswith(KEY_PREFIX):
            return
        holder = node_id_text(event.node_id)
        old = self._entries.pop((event.node_id, event.key), None)
        if old is not None:
            holders = self._remote.get(old, {})
            holders.pop(holder, None)
            if not holders:
                self._remote.pop(old, None)
        if event.value is None:
            return
        try:
            topic, origin, first, head = _decode(event.value)
        except (cbor2.CBORDecodeError, ValueError, TypeError, InvalidArgument, RecursionError):
            self._stats["dropped_records"] += 1
            return
        before = self.head(topic, origin)
        self._entries[(event.node_id, event.key)] = (topic, origin)
        self._remote.setdefault((topic, origin), {})[holder] = (first, head)
        if head > before:
            self._notify(topic, origin)

    # ---- views ----------------------------------------------------------------------------------

    def watch_heads(self, watcher: HeadWatcher) -> Callable[[], None]:
        """Call `watcher(topic, origin, head)` on the event loop whenever a partition's highest known
        head moves; returns the function that stops it."""
        self._watchers.append(watcher)
        return lambda: self._watchers.remove(watcher) if watcher in self._watchers else None

    def _notify(self, topic: str, origin: str) -> None:
        head = self.head(topic, origin)
        for watcher in list(self._watchers):
            watcher(topic, origin, head)

    def _others_alive(self) -> list[dict[str, Any]]:
        return [m for m in self._runtime.members() if m["state"] == "alive" and not m["self"]]

    def alive(self) -> dict[str, str]:
        """Live members other than this node: id -> address."""
        return {m["id"]: m["address"] for m in self._others_alive()}

    def membership(self) -> frozenset[tuple[str, int, int]]:
        """Live members other than this node as (id, generation, incarnation): it differs after any
        member left, came, restarted or refuted a suspicion, however briefly it was gone."""
        return frozenset((m["id"], m["generation"], m["incarnation"]) for m in self._others_alive())

    def holders(self, topic: str, origin: str) -> dict[str, tuple[int, int]]:
        """Every node holding the partition (this one included) with its (first, head)."""
        holders = dict(self._remote.get((topic, origin), {}))
        part = self._log.partition(topic, origin)
        if part is not None:
            holders[self._node_id] = (part.first, part.head)
        return holders

    def head(self, topic: str, origin: str) -> int:
        return max((head for _, head in self.holders(topic, origin).values()), default=0)

    def partitions(self, topic: str) -> list[PartitionInfo]:
        """Every partition of `topic` known mesh-wide, by origin."""
        origins = {origin for t, origin in self._remote if t == topic}
        origins.update(origin for origin, _, _ in self._log.partitions(topic))
        alive = set(self.alive()) | {self._node_id}
        out = []
        for origin in sorted(origins):
            holders = self.holders(topic, origin)
            head = max(h for _, h in holders.values())
            # The first offset still held by any node, of those that hold anything.
            first = min((f for f, h in holders.values() if 0 < f <= h), default=head + 1 if head else 0)
            ordered = dict(sorted(holders.items(), key=lambda item: item[0] != origin))
            out.append(PartitionInfo(topic, origin, first, head, ordered, origin in alive))
        return out
