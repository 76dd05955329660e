"""The durable log of event streams: one SQLite file (`DATA_DIR/streams.db`) holding every partition
this node has, its own (origin = this node) and the copies it keeps of other nodes' partitions.

A partition is (topic, origin); its events have offsets 1, 2, 3... with no gap. Table `partitions`
holds each partition's number (given when it is first written, never reused), first retained offset,
head (last offset written) and retained bytes, so a partition pruned empty keeps its head and an offset
is never handed out twice. Table `events` holds the retained events, each stored as its serialized
`StreamEvent` (topic and origin may be left out: `read` sets the partition's) under one integer key,
`number << 44 | offset` (SQLite's rowid): an append then adds rows at the end of one range of one
B-tree, about half the work of a (topic, origin, offset) key, which is a second B-tree beside the rowid
one (offsets stop at 2^44, partitions at 2^19). A file of the first layout, keyed by (topic, origin,
offset), is converted when it is opened.

**Writes.** Appends and prunes are queued on the event loop and applied in order by the file's writer
thread (`storage/writer.py`), which applies everything queued since its last transaction in one
transaction with one fsync, so concurrent publishers and replications share the cost of an fsync.
`append` returns once its events are durable. An append must continue its partition: events at or
below the head are skipped (a replication sent twice), and events that would leave a gap after the
head are not written; either way `append` returns the head after it, so a caller that sees a head below
its last offset backfills from head + 1. An offset is never given two events: an append whose events
differ from the ones held at their offsets, or whose source's event just before them (known by its
`published_at`) is not the one held there, writes nothing and raises `Conflict` (the source numbered
events after losing some).

**Reads.** The heads and firsts are kept in memory (updated on the event loop once a transaction has
committed, before its callers hear back), so `head`, `first`, `partitions` and `topics` are plain
look-ups. `read` and `offset_since` run on a second, read-only connection on the event loop's thread:
WAL lets it read beside the writer; a read is one indexed range scan bounded by `limit` and
`MAX_READ_BYTES`, a look-up by time a binary search on offsets.

A file that is not a readable log of this layout stops the node with one line, as for `kv.db`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..api.errors import NodeError
from ..api.proto import node_pb2
from ..log import Logger
from ..storage.check import unreadable
from ..storage.writer import Transaction, Writer

__all__ = ["MAX_READ_BYTES", "Conflict", "EventLog", "Partition"]

MAX_READ_BYTES = 3 << 20
"""Bytes of events one read returns at most (one event always fits): with the framing, a read fits one
peer message (4 MiB)."""

_SCHEMA_VERSION = 2
_OFFSET_BITS = 44
_MAX_OFFSET = (1 << _OFFSET_BITS) - 1
_MAX_NUMBER = (1 << (63 - _OFFSET_BITS)) - 1
_TABLES = (
    """CREATE TABLE {events} (key INTEGER PRIMARY KEY, published_at REAL NOT NULL, size INTEGER NOT NULL,
        event BLOB NOT NULL)""",
    """CREATE TABLE {partitions} (topic TEXT NOT NULL, origin TEXT NOT NULL, number INTEGER NOT NULL UNIQUE,
        first INTEGER NOT NULL, head INTEGER NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (topic, origin))
        WITHOUT ROWID""",
)
_SCHEMA = [table.format(events="events", partitions="partitions") for table in _TABLES]
_UPGRADE_FROM_1 = [
    *(table.format(events="events_v2", partitions="partitions_v2") for table in _TABLES),
    """INSERT INTO partitions_v2 SELECT topic, origin, ROW_NUMBER() OVER (ORDER BY topic, origin), first, head, bytes
        FROM partitions""",
    f"""INSERT INTO events_v2 SELECT p.number << {_OFFSET_BITS} | e.offset, e.published_at, e.size, e.event
        FROM events AS e JOIN partitions_v2 AS p USING (topic, origin)""",
    "DROP TABLE events",
    "DROP TABLE partitions",
    "ALTER TABLE events_v2 RENAME TO events",
    "ALTER TABLE partitions_v2 RENAME TO partitions",
]
_INSERT = "INSERT INTO events (key, published_at, size, event) VALUES (?, ?, ?, ?)"
_SAVE_PARTITION = """INSERT INTO partitions (topic, origin, first, head, bytes, number) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (topic, origin) DO UPDATE SET first = excluded.first, head = excluded.head,
        bytes = excluded.bytes"""
# Operations applied in one transaction at most; a longer queue is split over several commits.
_MAX_BATCH = 4096
_WAL_LIMIT = 16 << 20


class Partition(NamedTuple):
    """What this node holds of one partition: `first` retained offset (head + 1 when all were pruned,
    0 when none was ever written), `head` (last offset written), the retained `bytes`, and its
    `number` in this file (the high bits of its events' keys)."""

    first: int
    head: int
    bytes: int
    number: int


def _key(part: Partition, offset: int) -> int:
    """The `events` key of the partition's event at `offset`."""
    return part.number << _OFFSET_BITS | offset


_NONE = Partition(0, 0, 0, 0)


class Conflict(NodeError):
    """An append refused, nothing written: this log holds another event at `offset` of the partition,
    whose head here is `head`."""

    def __init__(self, topic: str, origin: str, offset: int, head: int) -> None:
        super().__init__(f"this node holds another event at offset {offset} of {topic} from {origin}",
                         "FAILED_PRECONDITION")
        self.offset = offset
        self.head = head


class _Refused(NamedTuple):
    """What an append's write answers instead of the head when it meets a conflict."""

    offset: int
    head: int


_Key = tuple[str, str]
_Write = Callable[[sqlite3.Connection, dict[_Key, Partition]], Any]


def _connect(path: Path) -> sqlite3.Connection:
    """The writer's connection, with the schema created in a new file and checked in an existing one."""
    if not path.exists():
        # The data dir's files are 0600; SQLite's -wal and -shm files take this file's mode.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.execute("PRAGMA journal_mode = WAL")
        if version == 0 and not tables:
            _migrate(conn, _SCHEMA)
        elif version == 1 and {"events", "partitions"} <= tables:
            _migrate(conn, _UPGRADE_FROM_1)
        elif version != _SCHEMA_VERSION or not {"events", "partitions"} <= tables:
            raise unreadable("streams", path, f"schema version {version}, not this node's version {_SCHEMA_VERSION}")
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, statements: list[str]) -> None:
    """Create or convert the tables in one transaction, then mark the file with this layout's version."""
    conn.executescript(f"BEGIN IMMEDIATE; {'; '.join(statements)}; PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT")


def _numbered(changed: dict[_Key, Partition], key: _Key) -> Partition:
    """The partition `key` as held, or a new empty one with the next number."""
    part = changed.get(key)
    if part is not None:
        return part
    return Partition(0, 0, 0, max((p.number for p in changed.values()), default=0) + 1)


def _same(held: node_pb2.StreamEvent, event: node_pb2.StreamEvent) -> bool:
    """The same event, whichever topic and origin each names (a log stores them without)."""
    return (held.published_at == event.published_at and held.data == event.data
            and dict(held.headers) == dict(event.headers))


def _clash(conn: sqlite3.Connection, part: Partition, events: list[node_pb2.StreamEvent], prev: float) -> int:
    """The first offset held here with another event than the source's: the one before `events`, whose
    `published_at` at the source is `prev` (0: unknown), or one of `events`; 0 when there is none. Only
    offsets retained here are compared: in the usual copy, the one before a batch, one look-up."""
    low = max(part.first, 1)
    before = events[0].offset - 1
    if prev and low <= before <= part.head:
        row = conn.execute("SELECT published_at FROM events WHERE key = ?", (_key(part, before),)).fetchone()
        if row is not None and row[0] != prev:
            return before
    for event in events:
        if event.offset > part.head:
            break
        if event.offset < low:
            continue
        row = conn.execute("SELECT event FROM events WHERE key = ?", (_key(part, event.offset),)).fetchone()
        if row is not None and not _same(node_pb2.StreamEvent.FromString(row[0]), event):
            return event.offset
    return 0


def _append(topic: str, origin: str, events: list[node_pb2.StreamEvent], since: int, prev: float) -> _Write:
    """Write the events that continue the partition; the result is its head after, or `_Refused` when
    an offset would get another event than the one held."""

    def write(conn: sqlite3.Connection, changed: dict[_Key, Partition]) -> int | _Refused:
        key = (topic, origin)
        part = _numbered(changed, key)
        if since > part.head + 1:
            # The source pruned everything up to `since`: what is held here cannot be continued.
            conn.execute("DELETE FROM events WHERE key BETWEEN ? AND ?", (_key(part, 0), _key(part, _MAX_OFFSET)))
            part = changed[key] = Partition(since, since - 1, 0, part.number)
        clash = _clash(conn, part, events, prev) if events else 0
        if clash:
            return _Refused(clash, part.head)
        rows = []
        added = 0
        head = part.head
        base = _key(part, 0)
        for event in events:
            offset = event.offset
            if offset <= head:
                continue  # held already: a replication sent again
            if offset != head + 1 or offset > _MAX_OFFSET:
                break  # a gap (the caller backfills from head + 1), or past the keys' room
            blob = event.SerializeToString()
            rows.append((base | offset, event.published_at, len(blob), blob))
            added += len(blob)
            head = offset
        if rows:
            conn.executemany(_INSERT, rows)
            first = part.first if part.first and part.first <= part.head else head - len(rows) + 1
            changed[key] = Partition(first, head, part.bytes + added, part.number)
        return head

    return write


def _offset_since(conn: sqlite3.Connection, part: Partition, t: float) -> int:
    """The first retained offset published at or after `t` (head + 1 if none), by binary search on the
    primary key: `published_at` is the origin's clock, which only goes forward but for a step back of
    the clock (then the answer is near, not exact). A scan would read every row's data."""
    lo, hi = max(part.first, 1), part.head + 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = conn.execute("SELECT published_at FROM events WHERE key = ?", (_key(part, mid),)).fetchone()
        if row is not None and row[0] >= t:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _prune(cutoff: float, max_bytes: int) -> _Write:
    """Delete each partition's events published before `cutoff`, then its oldest beyond `max_bytes`."""

    def write(conn: sqlite3.Connection, changed: dict[_Key, Partition]) -> int:
        removed = 0
        for key, part in list(changed.items()):
            if part.first == 0 or part.first > part.head:
                continue
            start = _key(part, 0)
            first = _offset_since(conn, part, cutoff)
            excess = part.bytes - conn.execute(
                "SELECT COALESCE(SUM(size), 0) FROM events WHERE key BETWEEN ? AND ?",
                (start, _key(part, first - 1))).fetchone()[0] - max_bytes
            if excess > 0:
                for event_key, size in conn.execute(
                        "SELECT key, size FROM events WHERE key BETWEEN ? AND ? ORDER BY key",
                        (_key(part, first), _key(part, _MAX_OFFSET))).fetchall():
                    if excess <= 0:
                        break
                    excess -= size
                    first = event_key - start + 1
            if first == part.first:
                continue
            below = (start, _key(part, first - 1))
            freed = conn.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM events WHERE key BETWEEN ? AND ?",
                                 below).fetchone()
            conn.execute("DELETE FROM events WHERE key BETWEEN ? AND ?", below)
            changed[key] = Partition(first, part.head, part.bytes - freed[0], part.number)
            removed += freed[1]
        return removed

    return write


class _Partitions(Transaction):
    """The partitions table as the writer thread writes it: `held` as last committed, `changed` in the
    transaction under way (a copy of `held`, so a transaction rolled back leaves nothing behind). A
    commit hands the partitions to `publish` on the event loop, before the transaction's callers hear
    back: an append's caller reads the head it wrote."""

    def __init__(self, publish: Callable[[dict[_Key, Partition]], None]) -> None:
        self.held: dict[_Key, Partition] = {}
        self.changed: dict[_Key, Partition] = {}
        self._publish = publish

    def begin(self) -> None:
        self.changed = dict(self.held)

    def end(self, conn: sqlite3.Connection) -> None:
        conn.executemany(_SAVE_PARTITION, [(*key, *part) for key, part in self.changed.items()
                                           if self.held.get(key) != part])

    def committed(self) -> Callable[[], None]:
        # Never changed again: the next transaction starts from a copy.
        self.held = self.changed
        return functools.partial(self._publish, self.held)


class EventLog:
    """The event-stream log of one node. Create with `await EventLog.open(path, logger)`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: Writer | None = None
        self._reader: sqlite3.Connection | None = None
        self._parts: dict[_Key, Partition] = {}
        self._table = _Partitions(self._published)

    @classmethod
    async def open(cls, path: Path, logger: Logger) -> EventLog:
        """Open (or create) the file; raises a one-line `NodeError` if it is not usable."""
        log = cls(path)
        try:
            log._writer = await Writer.open(path, functools.partial(_connect, path), logger, name="streams.log",
                                            what="the event-stream log", max_batch=_MAX_BATCH,
                                            transaction=log._table)
            log._reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            rows = log._reader.execute("SELECT topic, origin, first, head, bytes, number FROM partitions").fetchall()
        except sqlite3.Error as exc:
            await log.close()
            raise unreadable("streams", path, exc) from None
        except NodeError:
            await log.close()
            raise
        # Before the first write is queued, so the writer thread starts from them too.
        log._parts = log._table.held = {(topic, origin): Partition(*numbers) for topic, origin, *numbers in rows}
        return log

    @property
    def commits(self) -> int:
        """Transactions committed (each with one fsync)."""
        return self._writer.stats.commits if self._writer is not None else 0

    # ---- writes ---------------------------------------------------------------------------------

    async def append(self, topic: str, origin: str, events: list[node_pb2.StreamEvent], since: int = 0,
                     prev: float = 0.0) -> int:
        """Append consecutive events to (topic, origin), durably; the partition's head after. Events at or
        below the head are skipped; none is written past a gap (the head returned is below them).
        `since` is the source's first retained offset: when this log's head is below it, the partition
        here starts again at `since` (what came before was pruned at the source and cannot be copied).
        `prev` is the `published_at` of the source's event just before `events` (0: unknown). Raises
        `Conflict`, nothing written, when an offset held here has another event than the source's."""
        if not events and since <= self.head(topic, origin) + 1:
            return self.head(topic, origin)
        # The limits of the keys, checked here so that the writer's transaction (shared with other
        # appends) never meets them.
        if (topic, origin) not in self._parts and len(self._parts) >= _MAX_NUMBER:
            raise NodeError(f"this node's event-stream log holds {_MAX_NUMBER} partitions, its most",
                            "RESOURCE_EXHAUSTED")
        if max(events[-1].offset if events else 0, since) > _MAX_OFFSET:
            raise NodeError(f"partition {topic} of {origin} is full at offset {_MAX_OFFSET}", "RESOURCE_EXHAUSTED")
        result: int | _Refused = await self._submit(_append(topic, origin, events, since, prev))
        if isinstance(result, _Refused):
            raise Conflict(topic, origin, result.offset, result.head)
        return result

    async def prune(self, now: float, max_age_s: float, max_bytes_per_partition: int) -> int:
        """Delete events published more than `max_age_s` before `now`, then each partition's oldest
        beyond `max_bytes_per_partition`; the number of events deleted."""
        result: int = await self._submit(_prune(now - max_age_s, max_bytes_per_partition))
        return result

    def _submit(self, write: _Write) -> asyncio.Future[Any]:
        assert self._writer is not None
        table = self._table
        return self._writer.submit(lambda conn: write(conn, table.changed), durable=True)

    def _published(self, parts: dict[_Key, Partition]) -> None:
        self._parts = parts

    async def close(self) -> None:
        """Apply what is queued, close the file and stop the writer thread."""
        if self._writer is not None:
            await self._writer.close()
        if self._reader is not None:
            self._reader.close()

    # ---- reads ----------------------------------------------------------------------------------

    def head(self, topic: str, origin: str) -> int:
        """The last offset written to the partition (0 if none)."""
        return self._parts.get((topic, origin), _NONE).head

    def first(self, topic: str, origin: str) -> int:
        """The first offset retained (0 if none was written; head + 1 when all were pruned)."""
        return self._parts.get((topic, origin), _NONE).first

    def partition(self, topic: str, origin: str) -> Partition | None:
        return self._parts.get((topic, origin))

    def partitions(self, topic: str) -> list[tuple[str, int, int]]:
        """(origin, first, head) of every partition of `topic` held here, by origin."""
        return sorted((origin, p.first, p.head) for (t, origin), p in self._parts.items() if t == topic)

    def topics(self) -> list[str]:
        return sorted({topic for topic, _ in self._parts})

    def held(self) -> list[tuple[str, str, Partition]]:
        """Every partition held here: (topic, origin, partition)."""
        return [(topic, origin, part) for (topic, origin), part in sorted(self._parts.items())]

    def read(self, topic: str, origin: str, from_offset: int, limit: int) -> list[node_pb2.StreamEvent]:
        """Up to `limit` events from `from_offset` on (or the first retained after it), in order, at
        most `MAX_READ_BYTES` of them (one event always)."""
        part = self._parts.get((topic, origin))
        if self._reader is None or limit <= 0 or part is None:
            return []
        events: list[node_pb2.StreamEvent] = []
        size = 0
        for (blob,) in self._reader.execute(
                "SELECT event FROM events WHERE key BETWEEN ? AND ? ORDER BY key LIMIT ?",
                (_key(part, max(0, from_offset)), _key(part, _MAX_OFFSET), limit)):
            if events and size + len(blob) > MAX_READ_BYTES:
                break
            size += len(blob)
            event = node_pb2.StreamEvent.FromString(blob)
            event.topic = topic
            event.origin = origin
            events.append(event)
        return events

    def published_at(self, topic: str, origin: str, offset: int) -> float:
        """When the partition's event at `offset` was published (0.0 when it is not retained here)."""
        part = self._parts.get((topic, origin))
        if part is None or self._reader is None or not max(part.first, 1) <= offset <= part.head:
            return 0.0
        row = self._reader.execute("SELECT published_at FROM events WHERE key = ?", (_key(part, offset),)).fetchone()
        return float(row[0]) if row is not None else 0.0

    def offset_since(self, topic: str, origin: str, t: float) -> int:
        """The first retained offset published at or after `t`; head + 1 when there is none."""
        part = self._parts.get((topic, origin))
        if part is None or self._reader is None:
            return 1
        return _offset_since(self._reader, part, t)
