"""Event streams through real node processes on 127.0.0.1, over each node's local API (gRPC on its unix
socket): publishes acknowledged by replicas, partitions listed mesh-wide, a killed origin's events still
held by its replicas, bad input refused.

The tests share one three-node mesh; each uses its own topics. The test that kills a node runs on its own.
The last tests drive one node's `Streams` in-process, without a mesh: reads, the replica's side, retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import signal
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import cbor2
import grpc
import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from micro.identity.keyring import Keyring
from micro.mesh import OwnedStateChanged
from micro.node.api.client import LOCAL_CHANNEL_OPTIONS
from micro.node.api.errors import InvalidArgument
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.node.log import Logger
from micro.node.runtime import Runtime
from micro.node.streams.eventlog import EventLog
from micro.node.streams.service import Streams
from micro.node.transport import NetTransport
from node_harness import PATIENCE, Cluster, NodeProcess, until, wait_until

WINDOW = 500
"""Publishes in flight at once from a test."""


@contextlib.contextmanager
def local_api(node: NodeProcess) -> Iterator[node_pb2_grpc.NodeStub]:
    with grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}", options=LOCAL_CHANNEL_OPTIONS) as channel:
        yield node_pb2_grpc.NodeStub(channel)


def node_id(node: NodeProcess) -> str:
    return str(node.status()["id"])


def publish(node: NodeProcess, topic: str, data: bytes, headers: dict[str, str] | None = None
            ) -> node_pb2.StreamPublishReply:
    with local_api(node) as stub:
        return stub.StreamPublish(node_pb2.StreamPublishRequest(topic=topic, data=data, headers=headers), timeout=20)


def publish_many(node: NodeProcess, topic: str, count: int) -> list[node_pb2.StreamPublishReply]:
    """`count` publishes (data b"0", b"1"...), `WINDOW` of them in flight at a time; the replies in the
    order sent (concurrent publishes may be numbered in another)."""
    replies: list[node_pb2.StreamPublishReply] = []
    with local_api(node) as stub:
        for start in range(0, count, WINDOW):
            calls = [stub.StreamPublish.future(node_pb2.StreamPublishRequest(topic=topic, data=b"%d" % i), timeout=60)
                     for i in range(start, min(count, start + WINDOW))]
            replies.extend(call.result() for call in calls)
    return replies


def info(node: NodeProcess, topic: str) -> node_pb2.StreamInfoReply:
    with local_api(node) as stub:
        return stub.StreamInfo(node_pb2.StreamInfoRequest(topic=topic), timeout=10)


def held(node: NodeProcess, topic: str, origin: str) -> list[node_pb2.StreamEvent]:
    """The events of a partition in the node's streams.db, read beside the running (or killed) node."""
    with contextlib.closing(sqlite3.connect(f"file:{node.data_dir / 'streams.db'}?mode=ro", uri=True,
                                            timeout=5)) as conn:
        rows = conn.execute("SELECT event FROM events JOIN partitions ON key >> 44 = number "
                            "WHERE topic = ? AND origin = ? ORDER BY key", (topic, origin)).fetchall()
    return [node_pb2.StreamEvent.FromString(row[0]) for row in rows]


def test_a_publish_is_acknowledged_once_two_replicas_hold_it(trio: list[NodeProcess]) -> None:
    a = trio[0]
    origin = node_id(a)
    reply = publish(a, "orders.created", b"first", {"kind": "test"})
    assert reply.origin == origin and reply.offset == 1 and reply.replicas == 2
    for node in trio:
        events = held(node, "orders.created", origin)
        assert [(e.offset, e.data, dict(e.headers)) for e in events] == [(1, b"first", {"kind": "test"})]
    assert publish(a, "orders.created", b"second").offset == 2


def test_stream_info_lists_each_partition_on_every_node(trio: list[NodeProcess]) -> None:
    a, b, _ = trio
    publish(a, "info.topic", b"a1")
    publish(a, "info.topic", b"a2")
    publish(b, "info.topic", b"b1")
    ids = {node_id(n) for n in trio}

    def listed(node: NodeProcess) -> bool:
        parts = {p.origin: p for p in info(node, "info.topic").partitions}
        return (parts.keys() == {node_id(a), node_id(b)} and parts[node_id(a)].head == 2
                and parts[node_id(b)].head == 1 and all(len(p.replicas) == 2 for p in parts.values()))

    for node in trio:
        wait_until(functools.partial(listed, node), PATIENCE, f"{node.name} to list both partitions")
    part = next(p for p in info(trio[2], "info.topic").partitions if p.origin == node_id(a))
    assert part.first == 1 and part.origin_alive and set(part.replicas) == ids - {node_id(a)}
    assert info(trio[2], "info.none").partitions == []


def test_bad_input_is_refused_and_nothing_is_written(trio: list[NodeProcess]) -> None:
    a = trio[0]
    for topic, data in (("bad..topic", b"x"), ("bad.*", b"x"), ("", b"x"), ("big.event", b"x" * ((1 << 20) + 1))):
        with pytest.raises(grpc.RpcError) as failure:
            publish(a, topic, data)
        assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT, topic
    assert held(a, "big.event", node_id(a)) == []
    assert info(a, "big.event").partitions == []
    # The largest event allowed goes through.
    assert publish(a, "big.event", b"x" * (1 << 20)).replicas == 2


def test_a_garbage_replication_frame_is_refused_and_the_node_keeps_running(trio: list[NodeProcess]) -> None:
    a = trio[0]
    with grpc.insecure_channel(a.address) as channel:
        peer = node_pb2_grpc.PeerStub(channel)
        for frame in (node_pb2.Frame(data=b"garbage", source="127.0.0.1:1"), node_pb2.Frame()):
            for call in (peer.StreamReplicate, peer.StreamRead):
                with pytest.raises(grpc.RpcError) as failure:
                    call(frame, timeout=5)
                assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert a.status()["counters"]["streams.dropped_frames"] >= 4
    assert publish(a, "after.garbage", b"ok").replicas == 2


def consume_all(node: NodeProcess, topic: str, count: int, timeout: float, group: str = ""
                ) -> list[node_pb2.StreamEvent]:
    """`count` events of `topic` consumed through `node` from the start (auto-acked; a private group
    unless `group` is named)."""
    start = node_pb2.StreamConsumeStart(topic=topic, group=group, from_start=True, auto_ack=True,
                                        max_in_flight=count)
    events: list[node_pb2.StreamEvent] = []
    with local_api(node) as stub:
        stream = stub.StreamConsume(iter([node_pb2.StreamConsumeInput(start=start)]), timeout=timeout)
        for batch in stream:
            events.extend(batch.events)
            if len(events) >= count:
                stream.cancel()
                break
    return events


def test_ten_thousand_acknowledged_events_outlive_their_origin_killed() -> None:
    with Cluster.temporary("ms-") as cluster:
        nodes = cluster.form(4)
        a = nodes[0]
        origin = node_id(a)
        replies = publish_many(a, "load.events", 10_000)
        assert sorted(r.offset for r in replies) == list(range(1, 10_001))
        assert all(r.replicas == 2 for r in replies)
        sent = {r.offset: b"%d" % i for i, r in enumerate(replies)}
        [part] = info(a, "load.events").partitions
        replicas = [n for n in nodes if node_id(n) in part.replicas]
        [reader] = [n for n in nodes[1:] if n not in replicas]
        a.kill()
        for replica in replicas:
            events = held(replica, "load.events", origin)
            assert [e.offset for e in events] == list(range(1, 10_001))
            assert all(e.data == sent[e.offset] for e in events)

        def listed_dead() -> bool:
            parts = info(reader, "load.events").partitions
            return len(parts) == 1 and parts[0].head == 10_000 and not parts[0].origin_alive

        wait_until(listed_dead, 30, "the reader to list A's partition with A dead")
        # The reader holds no copy: it reads A's partition from a replica (Peer.StreamRead).
        assert held(reader, "load.events", origin) == []
        events = consume_all(reader, "load.events", 10_000, timeout=60)
        assert [(e.origin, e.offset) for e in events] == [(origin, o) for o in range(1, 10_001)]
        assert all(e.data == sent[e.offset] for e in events)
        assert reader.status()["counters"]["streams.remote_reads"] >= 1


def test_a_replica_that_was_down_is_backfilled_when_it_is_back() -> None:
    with Cluster.temporary("ms-") as cluster:
        a, b, c = cluster.form(3)
        origin = node_id(a)
        assert all(r.replicas == 2 for r in publish_many(a, "backfill.events", 100))
        c.kill()
        # Until C is found dead the copies to it fail (UNAVAILABLE, kept in A's log); then B alone holds them.
        late = [wait_until(functools.partial(or_unavailable, a, "backfill.events", b"late %d" % i), 30,
                           "a publish with C down to be acknowledged") for i in range(50)]
        assert all(r.replicas == 1 for r in late)
        c.start()
        cluster.wait_states([a], {n.address: "alive" for n in (a, b, c)})
        wait_until(lambda: [e.offset for e in held(c, "backfill.events", origin)] == list(range(1, late[-1].offset + 1)),
                   30, "C to be backfilled with what it missed")
        assert publish(a, "backfill.events", b"after").replicas == 2
        assert a.status()["counters"]["streams.backfilled"] >= 50


def or_unavailable(node: NodeProcess, topic: str, data: bytes) -> node_pb2.StreamPublishReply | None:
    """The publish's reply, or None when it was answered UNAVAILABLE."""
    try:
        return publish(node, topic, data)
    except grpc.RpcError as exc:
        if exc.code() != grpc.StatusCode.UNAVAILABLE:
            raise
        return None


# ---- an origin whose log lost events ---------------------------------------------------------------

def truncate(node: NodeProcess, topic: str, origin: str, keep: int) -> None:
    """Make the stopped node's log of a partition end at offset `keep` (with 0, lose the partition), as
    a log whose newest transactions SQLite dropped would."""
    with contextlib.closing(sqlite3.connect(node.data_dir / "streams.db")) as conn, conn:
        (number,) = conn.execute("SELECT number FROM partitions WHERE topic = ? AND origin = ?",
                                 (topic, origin)).fetchone()
        conn.execute("DELETE FROM events WHERE key >> 44 = ? AND key > ?", (number, number << 44 | keep))
        if keep:
            conn.execute("UPDATE partitions SET head = ? WHERE number = ?", (keep, number))
        else:
            conn.execute("DELETE FROM partitions WHERE number = ?", (number,))


def test_a_restarted_origin_that_lost_events_numbers_after_its_replicas_heads() -> None:
    with Cluster.temporary("ms-") as cluster:
        a, b, c = cluster.form(3)
        origin = node_id(a)
        tail = [b"tail %d" % i for i in range(10)]
        whole = [b"whole %d" % i for i in range(4)]
        assert all(publish(a, "lost.tail", data).replicas == 2 for data in tail)
        assert all(publish(a, "lost.whole", data).replicas == 2 for data in whole)
        a.kill(signal.SIGTERM)
        truncate(a, "lost.tail", origin, keep=6)
        truncate(a, "lost.whole", origin, keep=0)

        a.start()
        after = wait_until(functools.partial(or_unavailable, a, "lost.tail", b"after"), 30,
                           "the restarted origin to take publishes")
        assert (after.offset, after.replicas) == (11, 2)
        again = publish(a, "lost.whole", b"again")
        assert (again.offset, again.replicas) == (5, 2)
        for node in (a, b, c):
            assert [(e.offset, e.data) for e in held(node, "lost.tail", origin)] == list(enumerate([*tail, b"after"], 1))
            assert [(e.offset, e.data) for e in held(node, "lost.whole", origin)] == list(enumerate([*whole, b"again"], 1))
        assert a.status()["counters"]["streams.recovered"] == 4 + 4
        consumed = consume_all(a, "lost.tail", 11, timeout=30, group="audit")
        assert [(e.origin, e.offset, e.data) for e in consumed] == [(origin, o, d) for o, d in
                                                                    enumerate([*tail, b"after"], 1)]


def test_a_restarted_origin_takes_no_publish_until_it_has_reached_a_member() -> None:
    with Cluster.temporary("ms-") as cluster:
        a, b = cluster.form(2)
        origin = node_id(a)
        assert publish(a, "wait.heads", b"first").replicas == 1
        a.kill(signal.SIGTERM)
        b.kill(signal.SIGTERM)
        truncate(a, "wait.heads", origin, keep=0)

        a.start()  # it remembers B, which is down
        with pytest.raises(grpc.RpcError) as refused:
            publish(a, "wait.heads", b"alone")
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE and "learning" in refused.value.details()
        b.start()
        after = wait_until(functools.partial(or_unavailable, a, "wait.heads", b"second"), 30,
                           "the origin to take publishes once B is back")
        assert (after.offset, after.replicas) == (2, 1)
        assert [e.data for e in held(a, "wait.heads", origin)] == [b"first", b"second"]


def test_a_publish_at_offsets_replicas_hold_with_other_events_is_refused() -> None:
    with Cluster.temporary("ms-") as cluster:
        a, b, c = cluster.form(3)
        origin = node_id(a)
        old = [b"old %d" % i for i in range(5)]
        assert all(publish(a, "reused", data).replicas == 2 for data in old)
        for node in (a, b, c):
            node.kill(signal.SIGTERM)
        truncate(a, "reused", origin, keep=3)
        # A starts alone, remembering no member to learn its heads from, and numbers 4 and 5 again.
        (a.data_dir / "members.cbor").unlink()
        a.start()
        assert [(r.offset, r.replicas) for r in (publish(a, "reused", b"new %d" % i) for i in (4, 5))] == [(4, 0), (5, 0)]
        b.start()
        c.start()
        a.join(b)  # B and C, which saw A leave, do not seek it
        cluster.wait_states([a], {n.address: "alive" for n in (a, b, c)})

        with pytest.raises(grpc.RpcError) as refused:
            publish(a, "reused", b"new 6")
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        for replica in (b, c):
            assert [e.data for e in held(replica, "reused", origin)] == old
        assert a.status()["counters"]["streams.diverged"] >= 1
        assert sum(n.status()["counters"]["streams.conflicts_refused"] for n in (b, c)) >= 1


# ---- one node's Streams in-process: no members, so nothing to copy --------------------------------

def run_alone(scenario: Callable[[Streams, Keyring], Awaitable[None]], tmp_path: Path, **options: Any) -> None:
    """Run `scenario` with the Streams of a node that has no mesh (no members: k = 0)."""

    async def main() -> None:
        logger = Logger(io.StringIO())
        log = await EventLog.open(tmp_path / "streams.db", logger)
        transport = NetTransport(logger, source="127.0.0.1:1")
        keyring = Keyring(bytes(32))
        streams = Streams(Runtime(transport, logger, lambda: None), transport, lambda: keyring, "Nself", logger,
                          log, **options)
        try:
            await scenario(streams, keyring)
        finally:
            await streams.close()
            await log.close()
            await transport.close()

    asyncio.run(main())


def test_reads_and_head_watches_of_a_lone_node(tmp_path: Path) -> None:
    async def scenario(streams: Streams, keyring: Keyring) -> None:
        heads: list[tuple[str, str, int]] = []
        unwatch = streams.watch_heads(lambda topic, origin, head: heads.append((topic, origin, head)))
        replies = [await streams.publish(node_pb2.StreamPublishRequest(topic="lone", data=b"%d" % i)) for i in range(5)]
        assert [(r.origin, r.offset, r.replicas) for r in replies] == [("Nself", i, 0) for i in range(1, 6)]
        assert heads[-1] == ("lone", "Nself", 5)
        unwatch()
        read = await streams.read("lone", "Nself", 2, 2)
        assert [e.offset for e in read.events] == [2, 3] and (read.first, read.head) == (1, 5)
        assert [e.offset for e in (await streams.read("lone", "Nself", 0, 100, since=time.time() + 60)).events] == []
        [part] = streams.partitions("lone")
        assert (part.origin, part.first, part.head, part.origin_alive) == ("Nself", 1, 5, True)
        assert streams.counters()["streams.published"] == 5

    run_alone(scenario, tmp_path)


def sealed(keyring: Keyring, message: Message) -> node_pb2.Frame:
    return node_pb2.Frame(data=keyring.encrypt(message.SerializeToString()))


COPIED_AT = time.time()
"""When the copied events were published (recent: retention, which runs at start, keeps them)."""


def copied_events(first: int, last: int, data: bytes = b"") -> list[node_pb2.StreamEvent]:
    """Events of another node's ("Nother") partition of "copied", as its origin sends them."""
    return [node_pb2.StreamEvent(topic="copied", origin="Nother", offset=o, published_at=COPIED_AT,
                                 data=data + b"%d" % o) for o in range(first, last + 1)]


async def replicate(streams: Streams, keyring: Keyring, copied: list[node_pb2.StreamEvent],
                    prev: float = 0.0) -> node_pb2.StreamReplicated:
    """`Peer.StreamReplicate` of `copied` served by `streams`, as its origin sends it."""
    reply = await streams.serve_replicate(sealed(keyring, node_pb2.StreamReplicate(
        topic="copied", origin="Nother", events=copied, prev_published_at=prev)))
    return node_pb2.StreamReplicated.FromString(keyring.decrypt(reply.data))


def test_a_replica_appends_in_order_and_serves_reads(tmp_path: Path) -> None:
    async def scenario(streams: Streams, keyring: Keyring) -> None:
        assert (await replicate(streams, keyring, copied_events(1, 3))).head == 3
        # A gap: the origin backfills from 4.
        assert (await replicate(streams, keyring, copied_events(6, 7))).head == 3
        assert (await replicate(streams, keyring, copied_events(4, 7))).head == 7
        reply = await streams.serve_read(sealed(keyring, node_pb2.StreamRead(topic="copied", origin="Nother",
                                                                             from_offset=5, limit=10)))
        served = node_pb2.StreamEvents.FromString(keyring.decrypt(reply.data))
        assert [e.data for e in served.events] == [b"5", b"6", b"7"] and served.head == 7
        with pytest.raises(InvalidArgument):
            await streams.serve_replicate(sealed(keyring, node_pb2.StreamReplicate(
                topic="copied", origin="Nself", events=[])))
        assert streams.counters()["streams.replica_appends"] == 7

    run_alone(scenario, tmp_path)


def test_a_replica_refuses_events_at_offsets_it_holds_with_other_events(tmp_path: Path) -> None:
    async def scenario(streams: Streams, keyring: Keyring) -> None:
        assert (await replicate(streams, keyring, copied_events(1, 3))).head == 3
        # The origin lost event 3 and numbered others from 3 on: refused, nothing written.
        refused = await replicate(streams, keyring, copied_events(3, 4, data=b"new "))
        assert (refused.head, refused.conflict) == (3, 3)
        # Or it lost events 3-4, and its event 3 before a copy of 4-5 is not the one held here.
        refused = await replicate(streams, keyring, copied_events(4, 5), prev=COPIED_AT - 1)
        assert (refused.head, refused.conflict) == (3, 3)
        assert [e.data for e in streams.log.read("copied", "Nother", 1, 10)] == [b"1", b"2", b"3"]
        assert streams.counters()["streams.conflicts_refused"] == 2
        # After the event 3 held here, the copy goes on.
        accepted = await replicate(streams, keyring, copied_events(4, 5), prev=COPIED_AT)
        assert (accepted.head, accepted.conflict) == (5, 0)

    run_alone(scenario, tmp_path)


def test_retention_prunes_old_and_excess_events(tmp_path: Path) -> None:
    async def scenario(streams: Streams, keyring: Keyring) -> None:
        for i in range(20):
            await streams.publish(node_pb2.StreamPublishRequest(topic="kept", data=b"x" * 1000 + b"%d" % i))
        # Within 1 s (the repair tick) of the prune interval, the oldest beyond ~5 KB are gone.
        await until(lambda: streams.log.first("kept", "Nself") != 1, PATIENCE, "the first prune")
        assert streams.log.first("kept", "Nself") == 16 and streams.log.head("kept", "Nself") == 20
        assert streams.counters()["streams.pruned"] == 15

    run_alone(scenario, tmp_path, max_bytes=5500, prune_interval_s=0.2)


# ---- what other nodes send: never raises past the refusal ------------------------------------------

_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.one_of(_cbor_values.map(cbor2.dumps), st.binary(max_size=40)), min_size=1, max_size=8),
       frames=st.lists(st.binary(max_size=60), min_size=1, max_size=4),
       sealed=st.lists(st.binary(max_size=60), min_size=1, max_size=4))
def test_records_and_frames_from_peers_are_filed_or_counted(tmp_path: Path, records: list[bytes],
                                                            frames: list[bytes], sealed: list[bytes]) -> None:
    async def scenario(streams: Streams, keyring: Keyring) -> None:
        for value in records:
            streams.on_owned(OwnedStateChanged(bytes(range(32)), "stream/x", value))
        streams.on_owned(OwnedStateChanged(bytes(range(32)), "stream/x", None))
        assert streams.partitions("t") == []
        for data in [*frames, *(keyring.encrypt(body) for body in sealed)]:
            for serve in (streams.serve_replicate, streams.serve_read):
                with contextlib.suppress(InvalidArgument):
                    await serve(node_pb2.Frame(data=data))
        assert streams.log.topics() == []

    with tempfile.TemporaryDirectory(dir=tmp_path) as base:
        run_alone(scenario, Path(base))
