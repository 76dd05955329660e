"""The durable copy of the key-value replica: one SQLite file (`DATA_DIR/kv.db`), written on one thread.

Reads are served from the core's in-memory replica; this file is what the replica is loaded from at
start. Every statement runs on the file's writer thread (`storage/writer.py`), which applies
everything queued since its last transaction in one transaction with one fsync (group commit): the
more concurrent writers, the more writes per fsync. A local write is acknowledged only after its
transaction committed and was synced. Registers from other writers, purges and writer chains need not
be durable first (a crash loses nothing anti-entropy cannot bring back), so a batch of only those
commits with `synchronous=NORMAL`: no fsync of its own, made durable by the next FULL one.

Every upsert keeps the newer register (the same order as the replica: physical ms, logical, writer),
and a purge deletes a row only if it still holds the purged register, so the file agrees with the
replica whatever order operations arrive in. Deleted rows free pages that `auto_vacuum=INCREMENTAL`
and the writer's vacuum hand back to the file system once a quarter of the file is free, and
`journal_size_limit` truncates the write-ahead log after checkpoints, so put/delete churn does not grow
the files without bound.

A file that is not a readable SQLite database of this layout stops the node with one line: starting
empty in its place would look like data loss to every reader of this node.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ...mesh import KvEntry, KvWriter
from ..api.errors import NodeError
from ..api.kvfile import LOAD_ENTRIES
from ..log import Logger
from ..storage.check import unreadable
from ..storage.writer import Apply, Writer
from ..storage.writer import Stats as StoreStats

__all__ = ["KvStore", "StoreStats"]

_SCHEMA_VERSION = 1
_SCHEMA = (
    """CREATE TABLE entries (
        db TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL, value BLOB, expire_at INTEGER NOT NULL,
        physical_ms INTEGER NOT NULL, logical INTEGER NOT NULL, writer BLOB NOT NULL, signature BLOB NOT NULL,
        UNIQUE (db, tbl, key))""",
    "CREATE TABLE writers (node_id BLOB PRIMARY KEY, chain BLOB NOT NULL) WITHOUT ROWID",
)
_UPSERT = """INSERT INTO entries (db, tbl, key, value, expire_at, physical_ms, logical, writer, signature)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (db, tbl, key) DO UPDATE SET value = excluded.value, expire_at = excluded.expire_at,
        physical_ms = excluded.physical_ms, logical = excluded.logical, writer = excluded.writer,
        signature = excluded.signature
    WHERE (excluded.physical_ms, excluded.logical, excluded.writer) > (physical_ms, logical, writer)"""
_PURGE = """DELETE FROM entries
    WHERE db = ? AND tbl = ? AND key = ? AND physical_ms = ? AND logical = ? AND writer = ?"""
_SAVE_WRITER = """INSERT INTO writers (node_id, chain) VALUES (?, ?)
    ON CONFLICT (node_id) DO UPDATE SET chain = excluded.chain"""

# Operations applied in one transaction at most; a longer queue is split over several commits.
_MAX_BATCH = 50_000
# The write-ahead log is truncated to this after a checkpoint (it is reused, not grown, between them).
_WAL_LIMIT = 16 << 20


def _clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM entries")
    conn.execute("DELETE FROM writers")


def _many(sql: str, rows: list[tuple[Any, ...]]) -> Apply:
    """Run `sql` for each row. The cursor stays on the writer thread: a cursor finalised on another
    thread resets a cached statement under the writer thread's feet (SQLITE_MISUSE)."""

    def apply(conn: sqlite3.Connection) -> None:
        conn.executemany(sql, rows)

    return apply


def _row(entry: KvEntry) -> tuple[Any, ...]:
    return (entry.db, entry.table, entry.key, entry.value, entry.expire_at, entry.physical_ms, entry.logical,
            entry.writer, entry.signature)


def _prepare(path: Path) -> sqlite3.Connection:
    """Open the file (on the writer thread), create the schema in a new one, and check an existing one."""
    try:
        if not path.exists():
            # SQLite would create it with the umask; the data dir's files are 0600, and the log and
            # shared-memory files SQLite adds take the mode of this one.
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        conn = sqlite3.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise unreadable("kv", path, exc) from None
    try:
        _check(path, conn)
    except (sqlite3.Error, NodeError) as exc:
        conn.close()
        raise exc if isinstance(exc, NodeError) else unreadable("kv", path, exc) from None
    return conn


def _check(path: Path, conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version == 0 and not tables:
        # auto_vacuum can only be chosen before the first table exists.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        conn.execute("COMMIT")
    elif version != _SCHEMA_VERSION or not {"entries", "writers"} <= tables:
        raise unreadable("kv", path, f"schema version {version}, not this node's version {_SCHEMA_VERSION}")
    else:
        conn.execute("PRAGMA journal_mode = WAL")
        result = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            raise unreadable("kv", path, "; ".join(str(r) for r in result[:3]))
    conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")


def _load(conn: sqlite3.Connection) -> tuple[list[KvEntry], list[KvWriter]]:
    entries = [KvEntry(*row) for row in conn.execute(LOAD_ENTRIES)]
    writers = [KvWriter(node_id, chain) for node_id, chain in conn.execute("SELECT node_id, chain FROM writers")]
    return entries, writers


class KvStore:
    """The SQLite file of one node's replica. Create with `await KvStore.open(path, logger)`."""

    def __init__(self, path: Path, writer: Writer) -> None:
        self.path = path
        self.stats: StoreStats = writer.stats
        self._writer = writer

    @classmethod
    async def open(cls, path: Path, logger: Logger) -> KvStore:
        """Open (or create) the file and check it; raises a one-line `NodeError` if it is not usable."""
        writer = await Writer.open(path, functools.partial(_prepare, path), logger, name="kv.store",
                                   what="the KV store", max_batch=_MAX_BATCH, vacuum=True)
        return cls(path, writer)

    async def commit(self, entries: Sequence[KvEntry]) -> None:
        """Write registers and return once they are durable (committed and synced)."""
        await self._writer.submit(_many(_UPSERT, [_row(e) for e in entries]), durable=True)

    def save(self, entries: Iterable[KvEntry], then: Callable[[], None] | None = None) -> None:
        """Write registers in a coming transaction (not awaited: anti-entropy repairs a lost one); `then`
        runs on the event loop once that transaction is over, committed or not."""
        apply = _many(_UPSERT, [_row(e) for e in entries])
        if then is None:
            self._writer.post(apply)
            return
        over: asyncio.Future[Any] = self._writer.submit(apply)
        over.add_done_callback(lambda done: (done.cancelled() or done.exception(), then()))

    def purge(self, entries: Iterable[KvEntry]) -> None:
        """Delete collected registers, each only if the row still holds that register."""
        keys = [(e.db, e.table, e.key, e.physical_ms, e.logical, e.writer) for e in entries]
        self._writer.post(_many(_PURGE, keys))

    def save_writer(self, writer: KvWriter) -> None:
        """Remember a writer's certificate chain, loaded with the entries at the next start."""
        self._writer.post(_many(_SAVE_WRITER, [(writer.node_id, writer.chain)]))

    async def load(self) -> tuple[list[KvEntry], list[KvWriter]]:
        """Every stored register (tombstones too) and writer chain, after everything queued before."""
        result: tuple[list[KvEntry], list[KvWriter]] = await self._writer.submit(_load)
        return result

    async def clear(self) -> None:
        """Forget every register and writer (the node joined another mesh), durably."""
        await self._writer.submit(_clear, durable=True)

    async def close(self) -> None:
        """Commit what is queued, close the file and stop the writer thread."""
        await self._writer.close()
