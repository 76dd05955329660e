"""`micro.sdk.kv.Store` against a real node: records, listing, deletes, TTL, watch, errors as MicroError."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from micro.sdk import errors, kv
from node_harness import PATIENCE, NodeProcess, until

pytestmark = pytest.mark.asyncio


def _store(node: NodeProcess, table: str, db: str = "default") -> kv.Store:
    return kv.Store(db=db, table=table, data_dir=node.data_dir)


async def test_put_returns_the_record_that_get_reads_back(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        written = await store.put("k", b"\x00value\xff")
        read = await store.get("k")

    assert read == written
    assert (read.db, read.table, read.key, read.value) == ("default", table, "k", b"\x00value\xff")
    assert read.writer == node.status()["id"]
    assert read.expires_at is None
    assert read.stamp[0] == pytest.approx(time.time() * 1000, abs=60_000)


async def test_text_values_are_stored_as_utf8(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        await store.put("k", "héllo")

        assert (await store.get("k")).value == "héllo".encode()  # type: ignore[union-attr]


async def test_get_of_an_absent_key_is_none(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        assert await store.get("absent") is None


async def test_a_later_put_has_a_higher_stamp_and_wins(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        first = await store.put("k", b"1")
        second = await store.put("k", b"2")

        assert second.stamp > first.stamp
        assert (await store.get("k")) == second


async def test_list_by_prefix_with_limit_offset_and_reverse(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        for key in ("a/3", "a/1", "b/1", "a/2", "a/4"):
            await store.put(key, b"v")

        assert [r.key for r in await store.list(prefix="a/")] == ["a/1", "a/2", "a/3", "a/4"]
        assert [r.key for r in await store.list(prefix="a/", limit=2, offset=1)] == ["a/2", "a/3"]
        assert [r.key for r in await store.list(prefix="a/", reverse=True, limit=2)] == ["a/4", "a/3"]


async def test_delete_says_whether_a_value_was_there(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        await store.put("k", b"v")

        assert await store.delete("k") is True
        assert await store.get("k") is None
        assert await store.delete("k") is False


async def test_ttl_sets_the_expiry_and_the_key_then_reads_as_absent(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        before = time.time()
        record = await store.put("k", b"v", ttl=0.5)
        after = time.time()

        assert record.expires_at is not None
        assert before + 0.5 - 0.01 <= record.expires_at <= after + 0.5 + 0.01  # stamped in milliseconds

        async def absent() -> bool:
            return await store.get("k") is None

        await until(absent, PATIENCE, "the key to read as absent")
        assert await store.list() == []


async def test_watch_sees_puts_and_deletes_under_its_prefix_only(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store, store.watch("w/") as changes:
        await store.put("other", b"x")
        put = await store.put("w/1", b"v")
        await store.delete("w/1")

        first = await asyncio.wait_for(anext(changes), 10)
        second = await asyncio.wait_for(anext(changes), 10)

    assert first == kv.Change(put, deleted=False)
    assert (second.record.key, second.deleted, second.record.value) == ("w/1", True, b"")
    assert second.record.stamp > put.stamp


async def test_closing_the_store_ends_a_watch_being_read_without_an_error(node: NodeProcess, table: str) -> None:
    def watchers() -> int:
        return int(node.status()["counters"]["kv.watchers"])

    await until(lambda: watchers() == 0, PATIENCE, "earlier watches to end")
    store = _store(node, table)
    changes = store.watch()
    reader = asyncio.create_task(_collect(changes))
    await until(lambda: watchers() == 1, PATIENCE, "the watch to be registered")

    await store.close()

    assert await asyncio.wait_for(reader, PATIENCE) == []


async def test_a_closed_watch_yields_nothing_more(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        async with store.watch() as changes:
            await store.put("k", b"v")
            await asyncio.wait_for(anext(changes), 10)
        await store.put("k", b"after close")

        assert await _collect(changes) == []


async def _collect(changes: AsyncIterator[kv.Change]) -> list[kv.Change]:
    return [change async for change in changes]


async def test_databases_and_tables_list_what_holds_keys(node: NodeProcess, table: str) -> None:
    async with _store(node, table, db=f"db-{table}") as store:
        await store.put("k", b"v")

        assert f"db-{table}" in await store.databases()
        assert await store.tables() == [table]


async def test_one_store_serves_many_concurrent_calls_on_its_channel(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        await asyncio.gather(*(store.put(f"k{i:02}", b"v") for i in range(50)))

        assert len(await store.list()) == 50


async def test_concurrent_puts_of_large_values_all_succeed(node: NodeProcess, table: str) -> None:
    # Together over the 4 MiB a gRPC message may hold by default, each well under the 1 MiB value limit.
    values = {f"big{i}": bytes([i]) * (700 * 1024) for i in range(8)}
    async with _store(node, table) as store:
        await asyncio.gather(*(store.put(key, value) for key, value in values.items()))

        assert {r.key: r.value for r in await store.list()} == values


async def test_key_over_one_kib_is_a_bad_request(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        with pytest.raises(errors.BadRequest) as raised:
            await store.put("k" * 1025, b"v")

    assert (raised.value.id, raised.value.code, raised.value.status) == ("micro.node", 400, "INVALID_ARGUMENT")


async def test_bad_table_name_is_a_bad_request_when_the_store_is_made(tmp_path: Path) -> None:
    with pytest.raises(errors.BadRequest, match="table name"):
        kv.Store(table="no spaces!", data_dir=tmp_path)


@pytest.mark.parametrize(("db", "table", "kind"), [("", "default", "database"), ("default", "", "table")])
async def test_an_empty_database_or_table_name_is_a_bad_request_not_the_default(tmp_path: Path, db: str,
                                                                               table: str, kind: str) -> None:
    with pytest.raises(errors.BadRequest, match=f"invalid {kind} name ''"):
        kv.Store(db=db, table=table, data_dir=tmp_path)


async def test_no_node_running_is_unavailable(tmp_path: Path) -> None:
    async with kv.Store(data_dir=tmp_path) as store:
        with pytest.raises(errors.Unavailable) as raised:
            await store.get("k")

    assert raised.value.code == 503
    assert raised.value.detail == f"no node running at {tmp_path} (start one with `micro node start`)"


async def test_entering_a_watch_without_a_running_node_is_unavailable(tmp_path: Path) -> None:
    async with kv.Store(data_dir=tmp_path) as store:
        with pytest.raises(errors.Unavailable, match="no node running"):
            async with store.watch():
                pass


async def test_data_dir_comes_from_the_environment(node: NodeProcess, table: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MICRO_DATA_DIR", str(node.data_dir))

    async with kv.Store(table=table) as store:
        await store.put("k", b"from env")

    async with _store(node, table) as store:
        assert (await store.get("k")).value == b"from env"  # type: ignore[union-attr]


async def test_concurrent_puts_share_calls_and_are_each_answered(node: NodeProcess, table: str) -> None:
    before = node.status()["counters"]["kv.store_durable_commits"]
    async with _store(node, table) as store:
        records = await asyncio.gather(*(store.put(f"k{i}", str(i)) for i in range(200)))
        assert [r.key for r in records] == [f"k{i}" for i in range(200)]
        assert [(await store.get(f"k{i}")).value for i in (0, 199)] == [b"0", b"199"]  # type: ignore[union-attr]
    # The first put goes alone; the rest wait for it and go together.
    assert node.status()["counters"]["kv.store_durable_commits"] - before <= 5


async def test_a_refused_put_fails_alone_in_its_batch(node: NodeProcess, table: str) -> None:
    async with _store(node, table) as store:
        results = await asyncio.gather(store.put("good", b"1"), store.put("k" * 2000, b"2"),
                                       store.put("also-good", b"3"), return_exceptions=True)
        assert isinstance(results[1], errors.BadRequest)
        assert [r.key for r in (results[0], results[2])] == ["good", "also-good"]  # type: ignore[union-attr]
        assert (await store.get("also-good")) is not None
