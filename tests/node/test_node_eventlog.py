"""The event-stream log on its own: append and read, gaps refused, time look-ups, retention, reopening."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from micro.node.api.errors import NodeError
from micro.node.api.proto import node_pb2
from micro.node.log import Logger
from micro.node.streams.eventlog import Conflict, EventLog

_T = TypeVar("_T")
ORIGIN = "Norigin"


def run(scenario: Callable[[], Awaitable[_T]]) -> _T:
    return asyncio.run(scenario())  # type: ignore[arg-type]


def events(first: int, last: int, topic: str = "orders", at: float = 1000.0,
           data: bytes = b"x") -> list[node_pb2.StreamEvent]:
    return [node_pb2.StreamEvent(topic=topic, origin=ORIGIN, offset=o, published_at=at + o, data=data + b"%d" % o,
                                 headers={"k": str(o)}) for o in range(first, last + 1)]


async def opened(path: Path) -> EventLog:
    return await EventLog.open(path, Logger(io.StringIO()))


def test_appended_events_are_read_back_in_order(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        assert log.head("orders", ORIGIN) == 0 and log.first("orders", ORIGIN) == 0
        assert await log.append("orders", ORIGIN, events(1, 5)) == 5
        assert await log.append("orders", ORIGIN, events(6, 10)) == 10
        read = log.read("orders", ORIGIN, 3, 4)
        assert [e.offset for e in read] == [3, 4, 5, 6]
        assert read[0].data == b"x3" and read[0].headers["k"] == "3" and read[0].origin == ORIGIN
        assert [e.offset for e in log.read("orders", ORIGIN, 9, 100)] == [9, 10]
        assert log.read("orders", ORIGIN, 11, 100) == []
        assert log.read("other", ORIGIN, 1, 100) == []
        assert log.partitions("orders") == [(ORIGIN, 1, 10)]
        assert log.topics() == ["orders"]
        await log.close()

    run(scenario)


def test_a_gap_is_refused_and_a_repeat_is_skipped(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        await log.append("orders", ORIGIN, events(1, 3))
        assert await log.append("orders", ORIGIN, events(5, 6)) == 3
        assert await log.append("orders", ORIGIN, events(2, 5)) == 5
        assert [e.offset for e in log.read("orders", ORIGIN, 1, 100)] == [1, 2, 3, 4, 5]
        await log.close()

    run(scenario)


def test_an_offset_held_with_another_event_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        await log.append("orders", ORIGIN, events(1, 3))
        # Offsets 3-4 numbered again by a source that lost event 3: 3 differs from the one held.
        with pytest.raises(Conflict) as refused:
            await log.append("orders", ORIGIN, events(3, 4, data=b"other"))
        assert (refused.value.offset, refused.value.head, refused.value.code) == (3, 3, "FAILED_PRECONDITION")
        # Continuing after an event 3 other than the one held (known by its time) is refused too.
        with pytest.raises(Conflict) as refused:
            await log.append("orders", ORIGIN, events(4, 5), prev=1.0)
        assert refused.value.offset == 3
        assert log.head("orders", ORIGIN) == 3
        assert [e.data for e in log.read("orders", ORIGIN, 1, 100)] == [b"x1", b"x2", b"x3"]
        # The same events again, or a continuation after the same event 3, are no conflict.
        assert await log.append("orders", ORIGIN, events(2, 3)) == 3
        assert log.published_at("orders", ORIGIN, 3) == 1003.0
        assert await log.append("orders", ORIGIN, events(4, 5), prev=1003.0) == 5
        await log.close()

    run(scenario)


def test_a_source_that_pruned_its_start_restarts_the_copy_at_its_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        await log.append("orders", ORIGIN, events(1, 2))
        assert await log.append("orders", ORIGIN, events(50, 52), since=50) == 52
        assert log.first("orders", ORIGIN) == 50
        assert [e.offset for e in log.read("orders", ORIGIN, 1, 100)] == [50, 51, 52]
        await log.close()

    run(scenario)


def test_a_source_that_pruned_everything_past_this_head_moves_the_head_there(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        await log.append("orders", ORIGIN, events(1, 2))
        assert await log.append("orders", ORIGIN, [], since=9) == 8  # the source holds 1..8 pruned
        assert log.first("orders", ORIGIN) == 9
        assert log.read("orders", ORIGIN, 1, 100) == []
        assert await log.append("orders", ORIGIN, events(9, 9)) == 9  # and continues after it
        await log.close()

    run(scenario)


def test_concurrent_appends_share_commits(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        heads = await asyncio.gather(*(log.append(f"t{i % 10}", ORIGIN, events(i // 10 + 1, i // 10 + 1, f"t{i % 10}"))
                                       for i in range(1000)))
        assert sorted(heads) == sorted(i // 10 + 1 for i in range(1000))
        assert log.commits <= 100
        assert all(log.head(f"t{i}", ORIGIN) == 100 for i in range(10))
        await log.close()

    run(scenario)


def test_offset_since_finds_the_first_event_at_or_after_a_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        await log.append("orders", ORIGIN, events(1, 10, at=1000.0))
        assert log.offset_since("orders", ORIGIN, 0) == 1
        assert log.offset_since("orders", ORIGIN, 1004.5) == 5
        assert log.offset_since("orders", ORIGIN, 1005) == 5
        assert log.offset_since("orders", ORIGIN, 9999) == 11
        await log.close()

    run(scenario)


def test_prune_by_age_and_by_size_keeps_the_head(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        await log.append("old", ORIGIN, events(1, 10, "old", at=1000.0))
        await log.append("big", ORIGIN, events(1, 10, "big", at=5000.0, data=b"y" * 1000))
        # Age: events published before 1005 go (offsets 1-4).
        assert await log.prune(now=1105.0, max_age_s=100.0, max_bytes_per_partition=1 << 30) == 4
        assert log.first("old", ORIGIN) == 5 and log.head("old", ORIGIN) == 10
        assert [e.offset for e in log.read("old", ORIGIN, 1, 100)] == [5, 6, 7, 8, 9, 10]
        # Size: "big" keeps its newest events within about 3 KB.
        await log.prune(now=5000.0, max_age_s=100.0, max_bytes_per_partition=3500)
        kept = [e.offset for e in log.read("big", ORIGIN, 1, 100)]
        assert kept == [8, 9, 10]
        # Everything old goes; the head stays, and the next append continues it.
        await log.prune(now=1e9, max_age_s=1.0, max_bytes_per_partition=1 << 30)
        assert log.read("old", ORIGIN, 1, 100) == [] and log.first("old", ORIGIN) == 11
        assert await log.append("old", ORIGIN, events(11, 11, "old")) == 11
        assert log.partitions("old") == [(ORIGIN, 11, 11)]
        await log.close()

    run(scenario)


def test_reopening_keeps_events_and_heads(tmp_path: Path) -> None:
    path = tmp_path / "streams.db"

    async def scenario() -> None:
        log = await opened(path)
        await log.append("orders", ORIGIN, events(1, 3))
        await log.prune(now=1002.5, max_age_s=0.0, max_bytes_per_partition=1 << 30)
        await log.close()
        again = await opened(path)
        assert again.partitions("orders") == [(ORIGIN, 3, 3)]
        assert [e.offset for e in again.read("orders", ORIGIN, 1, 10)] == [3]
        assert await again.append("orders", ORIGIN, events(4, 4)) == 4
        await again.close()

    run(scenario)


def test_a_log_of_the_first_layout_is_converted_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "streams.db"
    with sqlite3.connect(path) as conn:  # the layout of version 1, keyed by (topic, origin, offset)
        conn.executescript("""
            CREATE TABLE events (topic TEXT NOT NULL, origin TEXT NOT NULL, offset INTEGER NOT NULL,
                published_at REAL NOT NULL, size INTEGER NOT NULL, event BLOB NOT NULL,
                PRIMARY KEY (topic, origin, offset));
            CREATE TABLE partitions (topic TEXT NOT NULL, origin TEXT NOT NULL, first INTEGER NOT NULL,
                head INTEGER NOT NULL, bytes INTEGER NOT NULL, PRIMARY KEY (topic, origin)) WITHOUT ROWID;
            PRAGMA user_version = 1;""")
        for topic, first, last in (("orders", 2, 4), ("audit", 1, 2)):
            rows = [(topic, ORIGIN, e.offset, e.published_at, len(e.SerializeToString()), e.SerializeToString())
                    for e in events(first, last, topic)]
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
            conn.execute("INSERT INTO partitions VALUES (?, ?, ?, ?, ?)",
                         (topic, ORIGIN, first, last, sum(row[4] for row in rows)))
    conn.close()

    async def scenario() -> None:
        log = await opened(path)
        assert [e.offset for e in log.read("orders", ORIGIN, 1, 10)] == [2, 3, 4]
        assert [e.data for e in log.read("audit", ORIGIN, 2, 10)] == [b"x2"]
        assert log.partitions("orders") == [(ORIGIN, 2, 4)]
        assert await log.append("orders", ORIGIN, events(5, 5)) == 5
        assert await log.append("fresh", ORIGIN, events(1, 1, "fresh")) == 1
        assert [e.offset for e in log.read("orders", ORIGIN, 0, 10)] == [2, 3, 4, 5]
        assert [e.topic for e in log.read("fresh", ORIGIN, 0, 10)] == ["fresh"]
        await log.close()

    run(scenario)


def test_a_file_that_is_not_a_log_stops_the_open(tmp_path: Path) -> None:
    path = tmp_path / "streams.db"
    path.write_bytes(b"not sqlite at all" * 100)

    async def scenario() -> None:
        with pytest.raises(NodeError, match="not a readable event-stream log"):
            await opened(path)

    run(scenario)


def test_an_append_past_the_largest_offset_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    async def scenario() -> None:
        log = await opened(tmp_path / "streams.db")
        huge = events(1, 1)
        huge[0].offset = 1 << 44
        with pytest.raises(NodeError, match="full at offset"):
            await log.append("orders", ORIGIN, huge)
        assert log.partitions("orders") == []
        assert await log.append("orders", ORIGIN, events(1, 2)) == 2
        await log.close()

    run(scenario)
