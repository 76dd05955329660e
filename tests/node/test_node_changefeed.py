"""The change feed behind watches: who gets which change, and what happens to a watcher that falls behind."""

from __future__ import annotations

import asyncio

import pytest
from micro.mesh import KvEntry
from micro.node.api.errors import NodeError
from micro.node.kv.changefeed import ChangeFeed


def entry(key: str, db: str = "app", table: str = "users") -> KvEntry:
    return KvEntry(db, table, key, b"v", 0, 1, 0, bytes(32), b"")


async def drain(subscription: object, count: int) -> list[str]:
    return [(await anext(subscription)).key for _ in range(count)]  # type: ignore[call-overload]


def test_a_watcher_gets_only_changes_of_its_table_under_its_prefix() -> None:
    async def scenario() -> list[str]:
        feed = ChangeFeed()
        with feed.subscribe("app", "users", "ad") as watch:
            for change in (entry("ada"), entry("bob"), entry("adam", table="other"), entry("adx", db="x"),
                           entry("adb")):
                feed.publish(change)
            return await drain(watch, 2)

    assert asyncio.run(scenario()) == ["ada", "adb"]


def test_a_watcher_that_falls_behind_is_dropped_without_holding_up_others() -> None:
    async def scenario() -> tuple[list[str], int]:
        feed = ChangeFeed(limit=2)
        slow = feed.subscribe("app", "users", "")
        with feed.subscribe("app", "users", "k") as fast:
            seen = []
            for i in range(3):
                feed.publish(entry(f"k{i}"))
                seen += await drain(fast, 1)
            with pytest.raises(NodeError) as caught:
                await anext(slow)
            assert caught.value.code == "RESOURCE_EXHAUSTED"
            return seen, len(feed)

    assert asyncio.run(scenario()) == (["k0", "k1", "k2"], 1)


def test_closing_a_watch_removes_it_from_the_feed() -> None:
    feed = ChangeFeed()
    with feed.subscribe("app", "users", ""):
        assert len(feed) == 1
    assert len(feed) == 0
