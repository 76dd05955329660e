"""The SQLite writer on its own: group commit, failures settled per caller, durability, close, open."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from micro.node.api.errors import NodeError
from micro.node.log import Logger
from micro.node.storage.writer import Apply, Transaction, Writer

_T = TypeVar("_T")
DEADLINE_S = 10.0
FULL, NORMAL = 2, 1  # PRAGMA synchronous


def run(scenario: Callable[[], Awaitable[_T]]) -> _T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def connect(path: Path) -> Callable[[], sqlite3.Connection]:
    def opened() -> sqlite3.Connection:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (name TEXT PRIMARY KEY)")
        return conn

    return opened


async def opened(path: Path, max_batch: int = 1000, transaction: Transaction | None = None,
                 log: io.StringIO | None = None) -> Writer:
    return await Writer.open(path, connect(path), Logger(log or io.StringIO()), name="test.writer",
                             what="the test file", max_batch=max_batch, transaction=transaction)


def insert(name: str) -> Apply:
    """Insert a row; the result is the connection's `synchronous` level in that transaction."""

    def apply(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO rows (name) VALUES (?)", (name,))
        level: int = conn.execute("PRAGMA synchronous").fetchone()[0]
        return level

    return apply


def stored(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        names = [name for (name,) in conn.execute("SELECT name FROM rows ORDER BY name")]
    conn.close()
    return names


class Gate:
    """An operation that holds the writer thread until opened, so that what is queued meanwhile is
    taken together by the next transaction."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def apply(self, conn: sqlite3.Connection) -> None:
        self.entered.set()
        assert self.released.wait(DEADLINE_S)

    @contextmanager
    def holding(self, writer: Writer) -> Iterator[None]:
        """Within the block the writer thread is busy in this gate's transaction."""
        writer.post(self.apply)
        assert self.entered.wait(DEADLINE_S)
        try:
            yield
        finally:
            self.released.set()


class Counted(Transaction):
    """Numbers the transactions; operations read the number of the one they are in. Each commit
    publishes its number on the event loop, with the thread that published it."""

    def __init__(self) -> None:
        self.number = 0
        self.committed_numbers: list[int] = []
        self.published: list[tuple[int, str]] = []

    def begin(self) -> None:
        self.number += 1

    def committed(self) -> Callable[[], None]:
        self.committed_numbers.append(self.number)
        number = self.number
        return lambda: self.published.append((number, threading.current_thread().name))


def test_operations_queued_together_commit_in_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    counted = Counted()

    async def scenario() -> list[int]:
        writer = await opened(path, transaction=counted)
        with Gate().holding(writer):
            numbered = [writer.submit(lambda conn: counted.number) for _ in range(100)]
        numbers = list(await asyncio.gather(*numbered))
        assert (writer.stats.commits, writer.stats.operations) == (2, 101)
        await writer.close()
        return numbers

    assert run(scenario) == [2] * 100


def test_a_queue_longer_than_a_batch_is_split_over_commits(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    counted = Counted()

    async def scenario() -> list[int]:
        writer = await opened(path, max_batch=10, transaction=counted)
        with Gate().holding(writer):
            numbered = [writer.submit(lambda conn: counted.number) for _ in range(25)]
        numbers = list(await asyncio.gather(*numbered))
        await writer.close()
        return numbers

    assert run(scenario) == [2] * 10 + [3] * 10 + [4] * 5


def test_a_failed_operation_fails_only_its_caller(tmp_path: Path) -> None:
    path = tmp_path / "w.db"

    def fails(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO rows (name) VALUES ('written by the failed one')")
        raise sqlite3.OperationalError("no room for this one")

    log = io.StringIO()

    async def scenario() -> list[Any]:
        writer = await opened(path, log=log)
        with Gate().holding(writer):
            waiters = [writer.submit(insert("a")), writer.submit(fails), writer.submit(insert("b"))]
        results = list(await asyncio.gather(*waiters, return_exceptions=True))
        await writer.close()
        return results

    a, failed, b = run(scenario)
    assert a == NORMAL and b == NORMAL
    assert isinstance(failed, NodeError) and failed.code == "UNAVAILABLE"
    assert "no room for this one" in failed.message and str(path) in failed.message
    assert stored(path) == ["a", "b"]
    assert log.getvalue().count('"test.writer_failed"') == 1


def test_a_rolled_back_transaction_is_not_reported_committed(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    counted = Counted()

    def fails(conn: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("refused")

    async def scenario() -> None:
        writer = await opened(path, transaction=counted)
        with Gate().holding(writer):
            waiters = [writer.submit(insert("a")), writer.submit(fails)]
        await asyncio.gather(*waiters, return_exceptions=True)
        await writer.close()

    run(scenario)
    # 1: the gate; 2: the batch, rolled back; 3 and 4: its operations again one each, 4 failing.
    assert counted.committed_numbers == [1, 3]
    assert [number for number, _ in counted.published] == [1, 3]


def test_what_a_commit_publishes_reaches_the_event_loop_before_its_callers_hear_back(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    counted = Counted()

    async def scenario() -> list[tuple[int, str]]:
        writer = await opened(path, transaction=counted)
        await writer.submit(insert("a"))
        seen = list(counted.published)
        await writer.close()
        return seen

    assert run(scenario) == [(1, threading.current_thread().name)]


def test_a_batch_is_synced_only_when_an_operation_asks_for_it(tmp_path: Path) -> None:
    path = tmp_path / "w.db"

    async def scenario() -> tuple[list[Any], list[Any]]:
        writer = await opened(path)
        alone = await asyncio.gather(writer.submit(insert("lazy")))
        assert (writer.stats.commits, writer.stats.durable_commits) == (1, 0)
        with Gate().holding(writer):
            together = [writer.submit(insert("a")), writer.submit(insert("b"), durable=True),
                        writer.submit(insert("c"))]
        mixed = await asyncio.gather(*together)
        assert (writer.stats.commits, writer.stats.durable_commits) == (3, 1)
        await writer.close()
        return list(alone), list(mixed)

    alone, mixed = run(scenario)
    assert alone == [NORMAL]
    assert mixed == [FULL, FULL, FULL]


def test_close_commits_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "w.db"

    async def scenario() -> Any:
        writer = await opened(path)
        with Gate().holding(writer):
            writer.post(insert("posted"))
            waited = writer.submit(insert("waited"), durable=True)
            closing = asyncio.get_running_loop().create_task(writer.close())
            await asyncio.sleep(0)  # close has begun: nothing more is taken
            with pytest.raises(NodeError, match="the node is stopping; the test file is closed"):
                writer.post(insert("late"))
        await asyncio.wait_for(closing, DEADLINE_S)
        assert waited.done()
        return waited.result()

    assert run(scenario) == FULL
    assert stored(path) == ["posted", "waited"]


def test_a_file_that_cannot_be_opened_fails_the_open_with_the_connect_error(tmp_path: Path) -> None:
    def refuses() -> sqlite3.Connection:
        raise NodeError("not this file", "FAILED_PRECONDITION")

    async def scenario() -> None:
        await Writer.open(tmp_path / "w.db", refuses, Logger(io.StringIO()), name="test.writer",
                          what="the test file", max_batch=10)

    with pytest.raises(NodeError, match="not this file"):
        run(scenario)
    for thread in threading.enumerate():
        if thread.name == "test.writer":
            thread.join(DEADLINE_S)
            assert not thread.is_alive()


def test_an_open_cancelled_after_the_file_opened_stops_the_thread(tmp_path: Path) -> None:
    async def scenario() -> None:
        opened = threading.Event()

        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(tmp_path / "slow.db", check_same_thread=False)
            opened.set()
            time.sleep(0.3)  # still opening when the caller gives up
            return conn

        task = asyncio.get_running_loop().create_task(
            Writer.open(tmp_path / "slow.db", connect, Logger(io.StringIO()), name="slow", what="the test store",
                        max_batch=10))
        while not opened.is_set():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 30.0)
        deadline = time.monotonic() + 30.0
        while any(t.name == "slow" for t in threading.enumerate()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert not any(t.name == "slow" for t in threading.enumerate())

    asyncio.run(scenario())
