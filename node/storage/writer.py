"""The writer of one SQLite file: one connection on one dedicated thread, writing in group commits.

sqlite3 objects belong to the thread that made them, and a commit waits for an fsync, so every write
runs on one thread that takes operations from a queue; the event loop only enqueues and awaits. The
KV store (`kv.db`) and the event log (`streams.db`) each have one; their schema and queries are theirs.

**Group commit.** The thread takes everything queued since its last transaction, at most `max_batch`
operations (a longer queue is split over several commits), and applies it in one transaction with one
fsync (`synchronous=FULL` in WAL mode syncs the log on commit). While a commit is in flight new
operations queue up and ride together in the next one, so the cost of an fsync is shared by every
caller waiting on it. An operation whose caller need not hear of it only once it is durable does not
ask for that fsync: a batch of only such operations commits with `synchronous=NORMAL` (no fsync of its
own; the next FULL commit makes it durable). Each batch's callers are answered with one wake-up of the
event loop, not one each.

**Failures.** An operation that raises fails alone: the transaction is rolled back and its operations
are applied again one transaction each, so every caller gets its own result, and the one that failed
`Unavailable` (logged as `<name>_failed`). A store that keeps state beside the file gives a
`Transaction`, told when each transaction begins, ends and has committed.

**Space.** With `vacuum`, for a file made with `auto_vacuum=INCREMENTAL`: once a quarter of the file is
free pages (and at least 1024), they are handed back to the file system and the write-ahead log is
checkpointed and truncated, so put/delete churn does not grow the files without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..api.errors import Unavailable
from ..log import Logger

__all__ = ["Apply", "Stats", "Transaction", "Writer"]

Apply = Callable[[sqlite3.Connection], Any]
"""An operation: run on the writer thread inside a transaction; what it returns is its caller's result."""

# Hand free pages back once they are this share of the file, and at least this many.
_FREE_SHARE = 0.25
_FREE_MIN_PAGES = 1024


class Stats:
    """What a writer has done (for status counters and tests of group commit)."""

    __slots__ = ("commits", "durable_commits", "operations", "vacuums")

    def __init__(self) -> None:
        self.commits = 0
        self.durable_commits = 0
        self.operations = 0
        self.vacuums = 0


class Transaction:
    """What a store does around each of its writer's transactions, on the writer thread (by default
    nothing). A transaction that fails is rolled back and followed by others: `begin` must start from
    what was last committed."""

    def begin(self) -> None:
        """After BEGIN, before the batch's operations."""

    def end(self, conn: sqlite3.Connection) -> None:
        """After the batch's operations, before COMMIT; raising fails the batch like an operation."""

    def committed(self) -> Callable[[], None] | None:
        """Once COMMIT returned: what the event loop runs before the batch's callers hear back."""
        return None


class _Op:
    """One queued operation; `waiter` is set when the caller awaits it, `durable` when its transaction
    must be synced before the caller hears back."""

    __slots__ = ("apply", "durable", "result", "waiter")

    def __init__(self, apply: Apply, waiter: asyncio.Future[Any] | None, durable: bool) -> None:
        self.apply = apply
        self.waiter = waiter
        self.durable = durable
        self.result: Any = None


_STOP = _Op(lambda conn: None, None, durable=False)


class Writer:
    """The writer of one file. Create with `await Writer.open(...)`."""

    def __init__(self, path: Path, logger: Logger, *, name: str, what: str, max_batch: int,
                 transaction: Transaction | None, vacuum: bool) -> None:
        self.path = path
        self.stats = Stats()
        self._log = logger
        self._name = name
        self._what = what
        self._max_batch = max_batch
        self._transaction = transaction if transaction is not None else Transaction()
        self._vacuum = vacuum
        self._loop = asyncio.get_running_loop()
        self._queue: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._closed = False
        self._stopped: asyncio.Future[None] = self._loop.create_future()
        # The connection's `synchronous` setting: True for FULL, False for NORMAL, None before the first.
        self._full: bool | None = None

    @classmethod
    async def open(cls, path: Path, connect: Callable[[], sqlite3.Connection], logger: Logger, *, name: str,
                   what: str, max_batch: int, transaction: Transaction | None = None,
                   vacuum: bool = False) -> Writer:
        """Start the thread and open the file there with `connect`, whose error (if any) this raises.
        `name` names the thread and the log events, `what` the store in errors ("the KV store")."""
        writer = cls(path, logger, name=name, what=what, max_batch=max_batch, transaction=transaction,
                     vacuum=vacuum)
        opened: asyncio.Future[None] = writer._loop.create_future()
        threading.Thread(target=writer._run, args=(connect, opened), name=name, daemon=True).start()
        try:
            await opened
        except BaseException:  # the file did not open, or the open was cancelled after it did
            writer._closed = True
            writer._queue.put(_STOP)  # a thread that opened the file waits for work: stop it
            await writer._stopped
            raise
        return writer

    # ---- the loop's side ------------------------------------------------------------------------

    def submit(self, apply: Apply, durable: bool = False) -> asyncio.Future[Any]:
        """Queue `apply`; the future is its result once its transaction committed (synced if `durable`),
        or `Unavailable` when it failed."""
        waiter = self._loop.create_future()
        self._put(_Op(apply, waiter, durable))
        return waiter

    def post(self, apply: Apply) -> None:
        """Queue `apply` with nobody waiting for it (a failure is only logged)."""
        self._put(_Op(apply, None, durable=False))

    def _put(self, op: _Op) -> None:
        if self._closed:
            raise Unavailable(f"the node is stopping; {self._what} is closed")
        self._queue.put(op)

    async def close(self) -> None:
        """Commit what is queued, close the file and stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(_STOP)
        await self._stopped

    # ---- the writer thread ----------------------------------------------------------------------

    def _run(self, connect: Callable[[], sqlite3.Connection], opened: asyncio.Future[None]) -> None:
        conn: sqlite3.Connection | None = None
        try:
            try:
                conn = connect()
            except Exception as exc:  # noqa: BLE001 - the opener says what a file that cannot be opened is
                self._call_soon(_settle, opened, None, exc)
                return
            self._call_soon(_settle, opened, None, None)
            while True:
                batch = self._take()
                stop = batch[-1] is _STOP
                if stop:
                    batch.pop()
                if batch:
                    self._apply(conn, batch)
                if stop:
                    break
        finally:
            if conn is not None:
                conn.close()
            self._call_soon(_settle, self._stopped, None, None)

    def _take(self) -> list[_Op]:
        batch = [self._queue.get()]
        while len(batch) < self._max_batch and batch[-1] is not _STOP:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _apply(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        durable = any(op.durable for op in batch)
        try:
            if durable != self._full:
                conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._full = durable
            conn.execute("BEGIN IMMEDIATE")
            self._transaction.begin()
            for op in batch:
                op.result = op.apply(conn)
            self._transaction.end(conn)
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
            self._call_soon(functools.partial(self._log.error, f"{self._name}_failed", error=str(exc)))
            self._answer(batch, None, Unavailable(f"{self._what} {self.path} failed: {exc}"))
            return
        self.stats.commits += 1
        self.stats.durable_commits += durable
        self.stats.operations += len(batch)
        self._answer(batch, self._transaction.committed(), None)
        if self._vacuum:
            self._maybe_vacuum(conn)

    def _answer(self, batch: list[_Op], first: Callable[[], None] | None, error: BaseException | None) -> None:
        # One wake-up of the loop for the whole batch, not one per waiter.
        waiting = [(op.waiter, op.result) for op in batch if op.waiter is not None]
        if waiting or first is not None:
            self._call_soon(_answer_all, first, waiting, error)

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
            self._call_soon(functools.partial(self._log.warning, f"{self._name}_vacuum_failed", error=str(exc)))


def _settle(waiter: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if waiter.done():
        return
    if error is not None:
        waiter.set_exception(error)
    else:
        waiter.set_result(result)


def _answer_all(first: Callable[[], None] | None, waiting: list[tuple[asyncio.Future[Any], Any]],
                error: BaseException | None) -> None:
    if first is not None:
        first()
    for waiter, result in waiting:
        _settle(waiter, result, error)
