"""The SQLite store of the KV replica on its own: durability, group commit, order, purge, bad files."""

from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import stat
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
from micro.mesh import KvEntry, KvWriter
from micro.node.api.errors import NodeError
from micro.node.api.kvfile import KvReader
from micro.node.kv.store import KvStore
from micro.node.log import Logger

_T = TypeVar("_T")
WRITER = bytes(range(32))


def entry(key: str, value: bytes | None = b"v", physical_ms: int = 1000, logical: int = 0,
          db: str = "default", table: str = "default") -> KvEntry:
    return KvEntry(db, table, key, value, 0, physical_ms, logical, WRITER, b"s" * 64)


def run(scenario: Callable[[], Awaitable[_T]]) -> _T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


async def opened(path: Path) -> KvStore:
    return await KvStore.open(path, Logger(io.StringIO()))


async def reload(path: Path) -> tuple[list[KvEntry], list[KvWriter]]:
    store = await opened(path)
    try:
        return await store.load()
    finally:
        await store.close()


def test_committed_entries_and_writers_are_there_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    written = [entry("a"), entry("b", None), entry("c", b"x" * 5000, db="app", table="users")]

    async def scenario() -> tuple[list[KvEntry], list[KvWriter]]:
        store = await opened(path)
        await store.commit(written)
        store.save_writer(KvWriter(WRITER, b"chain"))
        await store.close()
        return await reload(path)

    entries, writers = run(scenario)
    assert sorted(entries, key=lambda e: e.key) == written
    assert writers == [KvWriter(WRITER, b"chain")]


def test_concurrent_commits_share_transactions(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        store = await opened(tmp_path / "kv.db")
        await asyncio.gather(*(store.commit([entry(f"k{i}")]) for i in range(500)))
        await store.close()
        return store.stats.durable_commits, store.stats.operations

    commits, operations = run(scenario)
    assert operations == 500
    assert commits <= 50


def test_a_batch_of_only_remote_entries_is_committed_without_waiting(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        store = await opened(tmp_path / "kv.db")
        store.save([entry("remote")])
        await store.close()
        return store.stats.commits, store.stats.durable_commits

    assert run(scenario) == (1, 0)


def test_a_save_told_when_it_is_over_is_still_not_synced(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[str], int, int]:
        store = await opened(tmp_path / "kv.db")
        over = asyncio.Event()
        store.save([entry("remote")], then=over.set)
        await over.wait()
        stored = [e.key for e in (await store.load())[0]]  # in the file by the time it is over
        await store.close()
        return stored, store.stats.commits, store.stats.durable_commits

    stored, commits, durable = run(scenario)
    assert stored == ["remote"]
    assert commits >= 1
    assert durable == 0


def test_a_write_the_file_cannot_hold_fails_alone_in_its_batch(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    unstorable = entry("huge", physical_ms=1 << 70)  # beyond SQLite's 64-bit integers

    async def scenario() -> list[Any]:
        store = await opened(path)
        results = await asyncio.gather(store.commit([entry("a")]), store.commit([unstorable]),
                                       store.commit([entry("b")]), return_exceptions=True)
        await store.close()
        return list(results)

    good_a, bad, good_b = run(scenario)
    assert good_a is None and good_b is None
    assert isinstance(bad, NodeError) and bad.code == "UNAVAILABLE"
    assert sorted(e.key for e in run(lambda: reload(path))[0]) == ["a", "b"]


def test_the_newer_register_is_kept_whatever_order_the_saves_arrive_in(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    newer, older = entry("k", b"new", physical_ms=2000), entry("k", b"old", physical_ms=1000, logical=5)

    async def scenario() -> list[KvEntry]:
        store = await opened(path)
        await store.commit([newer])
        store.save([older])
        await store.close()
        return (await reload(path))[0]

    assert run(scenario) == [newer]


def test_a_purge_removes_only_the_register_it_names(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    old_tombstone, rewritten = entry("a", None, physical_ms=1000), entry("a", b"back", physical_ms=3000)

    async def scenario() -> list[KvEntry]:
        store = await opened(path)
        await store.commit([old_tombstone, entry("b", None)])
        await store.commit([rewritten])
        store.purge([old_tombstone, entry("b", None)])
        await store.close()
        return (await reload(path))[0]

    assert run(scenario) == [rewritten]


def test_clear_forgets_every_entry_and_writer(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"

    async def scenario() -> tuple[list[KvEntry], list[KvWriter]]:
        store = await opened(path)
        await store.commit([entry("a")])
        store.save_writer(KvWriter(WRITER, b"chain"))
        await store.clear()
        await store.close()
        return await reload(path)

    assert run(scenario) == ([], [])


def test_purged_churn_gives_the_space_back(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    value = b"x" * 2000

    async def scenario() -> int:
        store = await opened(path)
        for round_ in range(4):
            batch = [entry(f"k{i}", value, physical_ms=1000 + round_) for i in range(2000)]
            await store.commit(batch)
            store.purge(batch)
        await store.commit([entry("last")])
        await store.close()
        return store.stats.vacuums

    assert run(scenario) >= 1
    # 16 MB went through the file; what is left is one small row.
    assert path.stat().st_size < 200_000
    assert not path.with_name("kv.db-wal").exists()


def test_the_file_is_private_to_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"

    async def scenario() -> None:
        store = await opened(path)
        await store.commit([entry("a")])
        await store.close()

    run(scenario)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_garbage_in_the_file_refuses_to_open_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(NodeError) as caught:
        run(lambda: opened(path))
    assert caught.value.code == "FAILED_PRECONDITION"
    assert str(path) in caught.value.message and "\n" not in caught.value.message
    assert path.stat().st_size == 8192


def test_a_sqlite_file_of_another_layout_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE other (x)")
    with pytest.raises(NodeError, match="not a readable KV database"):
        run(lambda: opened(path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_refuses_to_open(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    run(lambda: _create_and_close(path))
    path.chmod(0)
    with pytest.raises(NodeError, match="not a readable KV database"):
        run(lambda: opened(path))


async def _create_and_close(path: Path) -> None:
    await (await opened(path)).close()


def test_writes_after_close_are_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = await opened(tmp_path / "kv.db")
        await store.close()
        await store.commit([entry("late")])

    with pytest.raises(NodeError, match="stopping"):
        run(scenario)


def test_a_read_only_view_sees_committed_registers_as_the_replica_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"

    async def scenario() -> None:
        store = await opened(path)
        await store.commit([entry("a/1"), entry("a/2"), entry("a/3", None), entry("b/1"),
                            replace(entry("a/4"), expire_at=5_000), entry("a/5", db="other")])
        reader = KvReader(path)  # while the node's store is open, as the SDK reads it
        try:
            assert KvEntry(*reader.get("default", "default", "a/1", now_ms=1)) == entry("a/1")  # type: ignore[misc]
            assert reader.get("default", "default", "a/3", now_ms=1) is None  # a tombstone
            assert reader.get("default", "default", "a/4", now_ms=4_999) is not None
            assert reader.get("default", "default", "a/4", now_ms=5_000) is None  # expired
            keys = [e.key for e in reader.list("default", "default", "a/", now_ms=1)]
            assert keys == ["a/1", "a/2", "a/4"]
            assert [e.key for e in reader.list("default", "default", "a/", 1, limit=1, offset=1,
                                               reverse=True)] == ["a/2"]
            await store.commit([entry("a/1", b"newer", physical_ms=2000)])
            assert reader.get("default", "default", "a/1", now_ms=1).value == b"newer"  # type: ignore[union-attr]
        finally:
            reader.close()
            await store.close()

    run(scenario)


def test_a_read_only_view_of_a_file_that_is_not_there_fails_to_open(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.Error):
        KvReader(tmp_path / "kv.db")
    assert not (tmp_path / "kv.db").exists()
