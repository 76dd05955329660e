"""The change feed behind watches: every register the replica installs, fanned out to matching watchers.

A watcher names a database, a table and a key prefix and gets its own bounded queue. Publishing never
waits: a watcher whose queue is full is dropped (its next read raises RESOURCE_EXHAUSTED), because one
slow reader must not hold up the node or make it buffer without bound. Watchers are indexed by
(database, table), so a change costs a prefix test per watcher of its table only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Self

from ...mesh import KvEntry
from ..api.errors import NodeError

__all__ = ["DEFAULT_WATCH_QUEUE", "ChangeFeed", "Subscription"]

# Changes a watcher may have unread before it is dropped.
DEFAULT_WATCH_QUEUE = 10_000


class Subscription:
    """One watcher's queue of changes; iterate it, and `close` it (or use `with`) when done."""

    def __init__(self, feed: ChangeFeed, db: str, table: str, prefix: str, limit: int) -> None:
        self.db = db
        self.table = table
        self.prefix = prefix
        self._feed = feed
        self._queue: asyncio.Queue[KvEntry] = asyncio.Queue(limit)
        self._dropped = False

    def offer(self, entry: KvEntry) -> None:
        if self._dropped:
            return
        try:
            self._queue.put_nowait(entry)
        except asyncio.QueueFull:
            self._dropped = True
            self.close()

    def __aiter__(self) -> AsyncIterator[KvEntry]:
        return self

    async def __anext__(self) -> KvEntry:
        if self._dropped:
            raise NodeError(
                f"the watch fell behind by {self._queue.maxsize} changes and was dropped; watch again and "
                "re-read what you need", "RESOURCE_EXHAUSTED")
        return await self._queue.get()

    def close(self) -> None:
        self._feed.remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChangeFeed:
    """Watchers by (database, table)."""

    def __init__(self, limit: int = DEFAULT_WATCH_QUEUE) -> None:
        self._limit = limit
        self._watchers: dict[tuple[str, str], list[Subscription]] = {}

    def subscribe(self, db: str, table: str, prefix: str) -> Subscription:
        subscription = Subscription(self, db, table, prefix, self._limit)
        self._watchers.setdefault((db, table), []).append(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        watchers = self._watchers.get((subscription.db, subscription.table), [])
        if subscription in watchers:
            watchers.remove(subscription)
            if not watchers:
                del self._watchers[(subscription.db, subscription.table)]

    def publish(self, entry: KvEntry) -> None:
        """Hand a change (a tombstone for a delete) to every watcher whose prefix matches its key."""
        for subscription in list(self._watchers.get((entry.db, entry.table), ())):
            if entry.key.startswith(subscription.prefix):
                subscription.offer(entry)

    def __len__(self) -> int:
        return sum(len(w) for w in self._watchers.values())
