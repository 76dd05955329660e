"""The durable copy of the key-value replica: one SQLite file (`DATA_DIR/kv.db`) on one thread.

Reads are served from the core's in-memory replica; this file is what the replica is loaded from at
start. sqlite3 objects belong to the thread that made them, and a commit waits for an fsync, so every
statement runs on one dedicated thread that takes operations from a queue; the event loop only enqueues
and awaits.

**Group commit.** The thread takes everything queued since its last transaction and applies it in one
transaction with one fsync (`synchronous=FULL` in WAL mode syncs the log on commit). While a commit is
in flight new writes queue up and ride together in the next one, so the cost of an fsync is shared by
every writer waiting on it: more concurrent writers, more writes per fsync. A local write is
acknowledged only after its transaction committed. Registers from other writers, purges and writer
chains need not be durable first (a crash loses nothing anti-entropy cannot bring back), so a batch of
only those commits with `synchronous=NORMAL`: no fsync of its own, made durable by the next FULL one.

Every upsert keeps the newer register (the same order as the replica: physical ms, logical, writer),
and a purge deletes a row only if it still holds the purged register, so the file agrees with the
replica whatever order operations arrive in. Deleted rows free pages that `auto_vacuum=INCREMENTAL`
hands back to the file system once a quarter of the file is free, and `journal_size_limit` truncates
the write-ahead log after checkpoints, so put/delete churn does not grow the files without bound.

A file that is not a readable SQLite database of this layout stops the node with one line: starting
empty in its place would look like data loss to every reader of this node.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ...mesh import KvEntry, KvWriter
from ..api.errors import NodeError, Unavailable
from ..api.kvfile import LOAD_ENTRIES
from ..log import Logger

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
# Hand free pages back once they are this share of the file, and at least this many.
_FREE_SHARE = 0.25
_FREE_MIN_PAGES = 1024

_Apply = Callable[[sqlite3.Connection], Any]


class StoreStats:
    """What the store has done (for status counters and tests of group commit)."""

    __slots__ = ("commits", "durable_commits", "operations", "vacuums")

    def __init__(self) -> None:
        self.commits = 0
        self.durable_commits = 0
        self.operations = 0
        self.vacuums = 0


class _Op:
    """One queued operation; `waiter` is set when the caller awaits its transaction, `durable` when the
    transaction must be synced before that (a caller may wait only to know it is over)."""

    __slots__ = ("apply", "durable", "result", "waiter")

    def __init__(self, apply: _Apply, waiter: asyncio.Future[Any] | None, durable: bool) -> None:
        self.apply = apply
        self.waiter = waiter
        self.durable = durable
        self.result: Any = None


_STOP = _Op(lambda conn: None, None, durable=False)


def _clear(conn: sqlite3.Connection) -> None:
    conn.execute("DELETE FROM entries")
    conn.execute("DELETE FROM writers")


def _many(sql: str, rows: list[tuple[Any, ...]]) -> _Apply:
    """Run `sql` for each row. The cursor stays on the store thread: a cursor finalised on another
    thread resets a cached statement under the store thread's feet (SQLITE_MISUSE)."""

    def apply(conn: sqlite3.Connection) -> None:
        conn.executemany(sql, rows)

    return apply


def _row(entry: KvEntry) -> tuple[Any, ...]:
    return (entry.db, entry.table, entry.key, entry.value, entry.expire_at, entry.physical_ms, entry.logical,
            entry.writer, entry.signature)


def _corrupt(path: Path, reason: object) -> NodeError:
    return NodeError(
        f"{path} is not a readable KV database ({reason}); the node will not start with an empty store in its "
        "place: restore the file, or move it aside to start empty",
        "FAILED_PRECONDITION",
    )


class KvStore:
    """The SQLite file of one node's replica. Create with `await KvStore.open(path, logger)`."""

    def __init__(self, path: Path, logger: Logger) -> None:
        self.path = path
        self.stats = StoreStats()
        self._log = logger
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._closed = False
        self._stopped: asyncio.Future[None] = self._loop.create_future()
        self._thread: threading.Thread | None = None

    @classmethod
    async def open(cls, path: Path, logger: Logger) -> KvStore:
        """Open (or create) the file and check it; raises a one-line `NodeError` if it is not usable."""
        store = cls(path, logger)
        opened: asyncio.Future[None] = store._loop.create_future()
        store._thread = threading.Thread(target=store._run, args=(opened,), name="kvstore", daemon=True)
        store._thread.start()
        try:
            await opened
        except NodeError:
            store._closed = True
            await store._stopped
            raise
        return store

    # ---- the loop's side ------------------------------------------------------------------------

    def _submit(self, apply: _Apply, wait: bool, durable: bool = False) -> asyncio.Future[Any] | None:
        if self._closed:
            raise Unavailable("the node is stopping; the KV store is closed")
        waiter = self._loop.create_future() if wait else None
        self._queue.put(_Op(apply, waiter, durable))
        return waiter

    async def commit(self, entries: Sequence[KvEntry]) -> None:
        """Write registers and return once they are durable (committed and synced)."""
        waiter = self._submit(_many(_UPSERT, [_row(e) for e in entries]), wait=True, durable=True)
        assert waiter is not None
        await waiter

    def save(self, entries: Iterable[KvEntry], then: Callable[[], None] | None = None) -> None:
        """Write registers in a coming transaction (not awaited: anti-entropy repairs a lost one); `then`
        runs on the event loop once that transaction is over, committed or not."""
        waiter = self._submit(_many(_UPSERT, [_row(e) for e in entries]), wait=then is not None)
        if waiter is not None and then is not None:
            waiter.add_done_callback(lambda done: (done.cancelled() or done.exception(), then()))

    def purge(self, entries: Iterable[KvEntry]) -> None:
        """Delete collected registers, each only if the row still holds that register."""
        keys = [(e.db, e.table, e.key, e.physical_ms, e.logical, e.writer) for e in entries]
        self._submit(_many(_PURGE, keys), wait=False)

    def save_writer(self, writer: KvWriter) -> None:
        """Remember a writer's certificate chain, loaded with the entries at the next start."""
        self._submit(_many(_SAVE_WRITER, [(writer.node_id, writer.chain)]), wait=False)

    async def load(self) -> tuple[list[KvEntry], list[KvWriter]]:
        """Every stored register (tombstones too) and writer chain, after everything queued before."""
        waiter = self._submit(self._load, wait=True)
        assert waiter is not None
        result: tuple[list[KvEntry], list[KvWriter]] = await waiter
        return result

    async def clear(self) -> None:
        """Forget every register and writer (the node joined another mesh), durably."""
        waiter = self._submit(_clear, wait=True, durable=True)
        assert waiter is not None
        await waiter

    async def close(self) -> None:
        """Commit what is queued, close the file and stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        await self._stopped

    # ---- the store thread -----------------------------------------------------------------------

    def _run(self, opened: asyncio.Future[None]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            try:
                conn = self._prepare(self.path)
            except NodeError as exc:
                self._call_soon(_settle, opened, None, exc)
                return
            self._call_soon(_settle, opened, None, None)
            while True:
                batch = self._take()
                self._apply(conn, [op for op in batch if op is not _STOP])
                if batch[-1] is _STOP:
                    break
        finally:
            if conn is not None:
                conn.close()
            self._call_soon(_settle, self._stopped, None, None)

    def _take(self) -> list[_Op]:
        batch = [self._queue.get()]
        while len(batch) < _MAX_BATCH and batch[-1] is not _STOP:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _apply(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        if not batch:
            return
        durable = any(op.durable for op in batch)
        try:
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            conn.execute("BEGIN IMMEDIATE")
            for op in batch:
                op.result = op.apply(conn)
            conn.execute("COMMIT")
        except Exception as exc:  # noqa: BLE001 - the thread must outlive any failure, or writers hang
            if conn.in_transaction:
                # SQLite has rolled back already after some errors (a full disk); that is fine too.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if len(batch) > 1:
                # One bad operation must not fail the others that happened to share its transaction.
                for op in batch:
                    self._apply(conn, [op])
                return
            self._call_soon(functools.partial(self._log.error, "kv.store_failed", error=str(exc)))
            self._answer(batch, Unavailable(f"the KV store {self.path} failed: {exc}"))
            return
        self.stats.commits += 1
        self.stats.durable_commits += durable
        self.stats.operations += len(batch)
        self._answer(batch, None)
        self._maybe_vacuum(conn)

    def _answer(self, batch: list[_Op], error: BaseException | None) -> None:
        # One wake-up of the loop for the whole batch, not one per waiter.
        waiting = [(op.waiter, op.result) for op in batch if op.waiter is not None]
        if waiting:
            self._call_soon(_settle_all, waiting, error)

    def _call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:
            # The loop is closed: nobody is left to tell.
            pass

    def _maybe_vacuum(self, conn: sqlite3.Connection) -> None:
        try:
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            if free >= _FREE_MIN_PAGES and free >= pages * _FREE_SHARE:
                # The pragma frees one page per step, and execute() steps once; executescript() runs it out.
                conn.executescript("PRAGMA incremental_vacuum")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self.stats.vacuums += 1
        except sqlite3.Error as exc:
            # Space is handed back on a later batch; the data is committed either way.
            self._call_soon(functools.partial(self._log.warning, "kv.vacuum_failed", error=str(exc)))

    def _prepare(self, path: Path) -> sqlite3.Connection:
        """Open the file on this thread, create the schema in a new one, and check an existing one."""
        try:
            if not path.exists():
                # SQLite would create it with the umask; the data dir's files are 0600, and the log and
                # shared-memory files SQLite adds take the mode of this one.
                os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
            conn = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise _corrupt(path, exc) from None
        try:
            self._check(conn)
        except (sqlite3.Error, NodeError) as exc:
            conn.close()
            raise exc if isinstance(exc, NodeError) else _corrupt(path, exc) from None
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
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
            raise _corrupt(self.path, f"schema version {version}, not this node's version {_SCHEMA_VERSION}")
        else:
            conn.execute("PRAGMA journal_mode = WAL")
            result = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if result != ["ok"]:
                raise _corrupt(self.path, "; ".join(str(r) for r in result[:3]))
        conn.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT}")

    def _load(self, conn: sqlite3.Connection) -> tuple[list[KvEntry], list[KvWriter]]:
        entries = [KvEntry(*row) for row in conn.execute(LOAD_ENTRIES)]
        writers = [KvWriter(node_id, chain) for node_id, chain in conn.execute("SELECT node_id, chain FROM writers")]
        return entries, writers


def _settle(waiter: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(result)


def _settle_all(waiting: list[tuple[asyncio.Future[Any], Any]], error: BaseException | None) -> None:
    for waiter, result in waiting:
        _settle(waiter, result, error)

