"""Consumer groups of event streams through real node processes on 127.0.0.1, over each node's local API.

Most tests share one three-node mesh, each on its own topics and groups; the test that kills a node makes
its own.
"""

from __future__ import annotations

import functools
import queue
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from micro.node.api.client import LOCAL_CHANNEL_OPTIONS
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.node.streams.consumer_session import ATTEMPTS_TABLE, OFFSETS_DB, attempt_key
from node_harness import PATIENCE, Cluster, NodeProcess, wait_until

DELIVER = PATIENCE


def _stub(node: NodeProcess) -> tuple[grpc.Channel, node_pb2_grpc.NodeStub]:
    channel = grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}", options=LOCAL_CHANNEL_OPTIONS)
    return channel, node_pb2_grpc.NodeStub(channel)


class Consumer:
    """One `StreamConsume` stream: events read on a thread into a queue, acks sent through `ack`."""

    def __init__(self, node: NodeProcess, topic: str, group: str = "", **start: Any) -> None:
        self._channel, stub = _stub(node)
        self._inputs: queue.Queue[node_pb2.StreamConsumeInput | None] = queue.Queue()
        self._inputs.put(node_pb2.StreamConsumeInput(
            start=node_pb2.StreamConsumeStart(topic=topic, group=group, **start)))
        self._call = stub.StreamConsume(iter(self._inputs.get, None))
        self._call.initial_metadata()  # the node sends the headers once the consumer is registered
        self.events: queue.Queue[node_pb2.StreamEvent] = queue.Queue()
        self.error: grpc.RpcError | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for batch in self._call:
                for event in batch.events:
                    self.events.put(event)
        except grpc.RpcError as exc:
            self.error = exc

    def next(self, timeout: float = DELIVER) -> node_pb2.StreamEvent:
        return self.events.get(timeout=timeout)

    def take(self, count: int, timeout: float = DELIVER) -> list[node_pb2.StreamEvent]:
        deadline = time.monotonic() + timeout
        return [self.events.get(timeout=max(0.01, deadline - time.monotonic())) for _ in range(count)]

    def drain(self, settle: float = 1.0) -> list[node_pb2.StreamEvent]:
        """Every event that arrives until none came for `settle` seconds."""
        out = []
        while True:
            try:
                out.append(self.events.get(timeout=settle))
            except queue.Empty:
                return out

    def ack(self, event: node_pb2.StreamEvent, nack: bool = False) -> None:
        self.send(node_pb2.StreamConsumeInput(ack=node_pb2.StreamAck(origin=event.origin, offset=event.offset,
                                                                     nack=nack)))

    def send(self, item: node_pb2.StreamConsumeInput) -> None:
        self._inputs.put(item)

    def finish(self, timeout: float = DELIVER) -> None:
        """Stop sending (half-close) and wait for the node to end the stream."""
        self._inputs.put(None)
        self._reader.join(timeout)
        assert not self._reader.is_alive()

    def close(self) -> None:
        self._inputs.put(None)
        self._call.cancel()
        self._channel.close()


@pytest.fixture(scope="module")
def stubs(trio: list[NodeProcess]) -> Iterator[list[node_pb2_grpc.NodeStub]]:
    opened = [_stub(node) for node in trio]
    yield [stub for _, stub in opened]
    for channel, _ in opened:
        channel.close()


def publish(stub: node_pb2_grpc.NodeStub, topic: str, data: bytes, **headers: str) -> node_pb2.StreamPublishReply:
    return stub.StreamPublish(node_pb2.StreamPublishRequest(topic=topic, data=data, headers=headers), timeout=10)


def group_of(stub: node_pb2_grpc.NodeStub, topic: str, group: str) -> node_pb2.StreamGroup | None:
    reply = stub.StreamInfo(node_pb2.StreamInfoRequest(topic=topic), timeout=5)
    return next((g for g in reply.groups if g.name == group), None)


def wait_members(stubs: list[node_pb2_grpc.NodeStub], topic: str, group: str, count: int) -> None:
    """Until every node knows `count` consumers in the group."""
    def known(stub: node_pb2_grpc.NodeStub) -> bool:
        return len(getattr(group_of(stub, topic, group), "consumers", ())) == count

    for stub in stubs:
        wait_until(functools.partial(known, stub), DELIVER, f"{count} consumers in {group}")


def wait_partitions(stubs: list[node_pb2_grpc.NodeStub], topic: str, heads: dict[str, int]) -> None:
    """Until every node knows the partitions of `topic` with these heads."""
    def known(stub: node_pb2_grpc.NodeStub) -> bool:
        reply = stub.StreamInfo(node_pb2.StreamInfoRequest(topic=topic), timeout=5)
        return {p.origin: p.head for p in reply.partitions} == heads

    for stub in stubs:
        wait_until(functools.partial(known, stub), DELIVER, f"the partitions of {topic}")


def counter(node: NodeProcess, name: str) -> int:
    return int(node.status()["counters"].get(f"consumers.{name}", 0))


def keys(events: list[node_pb2.StreamEvent]) -> list[tuple[str, int]]:
    return [(e.origin, e.offset) for e in events]


def test_bad_start_options_are_refused(stubs: list[node_pb2_grpc.NodeStub]) -> None:
    def refused(first: node_pb2.StreamConsumeInput) -> str:
        with pytest.raises(grpc.RpcError) as info:
            next(iter(stubs[0].StreamConsume(iter([first]), timeout=5)))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        return str(info.value.details())

    start = node_pb2.StreamConsumeStart
    assert "StreamConsumeStart" in refused(node_pb2.StreamConsumeInput(ack=node_pb2.StreamAck(origin="x", offset=1)))
    assert "topic" in refused(node_pb2.StreamConsumeInput(start=start(topic="bad..topic")))
    assert "topic" in refused(node_pb2.StreamConsumeInput(start=start(topic="orders.*")))
    assert "group" in refused(node_pb2.StreamConsumeInput(start=start(topic="orders", group="a b")))
    assert "ack_wait_s" in refused(node_pb2.StreamConsumeInput(start=start(topic="orders", ack_wait_s=-1)))
    assert "max_retries" in refused(node_pb2.StreamConsumeInput(start=start(topic="orders", max_retries=10**6)))
    assert "max_in_flight" in refused(node_pb2.StreamConsumeInput(start=start(topic="orders", max_in_flight=10**9)))
    assert "since" in refused(node_pb2.StreamConsumeInput(start=start(topic="orders", since=float("nan"))))
    assert group_of(stubs[0], "orders", "") is None


def collect(consumers: list[Consumer], count: int, ack: bool = True,
            timeout: float = DELIVER) -> list[node_pb2.StreamEvent]:
    """At least `count` events from the consumers together (each acked when `ack`), then those arriving
    until none came for a second."""
    got: list[node_pb2.StreamEvent] = []

    def more() -> bool:
        for consumer in consumers:
            for event in consumer.drain(0.05):
                got.append(event)
                if ack:
                    consumer.ack(event)
        return len(got) >= count

    wait_until(more, timeout, f"{count} events")
    for consumer in consumers:
        for event in consumer.drain(1.0):
            got.append(event)
            if ack:
                consumer.ack(event)
    return got


def test_a_group_of_two_consumers_processes_each_event_once(trio: list[NodeProcess],
                                                             stubs: list[node_pb2_grpc.NodeStub]) -> None:
    _, b, c = trio
    consumers = [Consumer(b, "once.work", "workers", from_start=True),
                 Consumer(c, "once.work", "workers", from_start=True)]
    try:
        wait_members(stubs, "once.work", "workers", 2)
        published = [publish(stubs[i % 3], "once.work", f"job {i}".encode()) for i in range(30)]
        got = collect(consumers, 30)
        assert sorted(keys(got)) == sorted((r.origin, r.offset) for r in published)  # each once
        assert all(e.attempt == 1 for e in got)
        heads = {r.origin: r.offset for r in published}
        # Acked in order, the group's committed offsets reach every head and its lag falls to 0.
        wait_until(lambda: dict(getattr(group_of(stubs[0], "once.work", "workers"), "committed", {})) == heads,
                   DELIVER, "the group's offsets committed")
        group = group_of(stubs[0], "once.work", "workers")
        assert group is not None and group.lag == 0
    finally:
        for consumer in consumers:
            consumer.close()


def test_a_closed_consumers_unacked_events_go_to_the_other(trio: list[NodeProcess],
                                                           stubs: list[node_pb2_grpc.NodeStub]) -> None:
    _, b, c = trio
    first = Consumer(c, "handover.work", "handover", from_start=True)
    try:
        wait_members(stubs, "handover.work", "handover", 1)
        published = sorted((r.origin, r.offset) for i in range(12)
                           for r in [publish(stubs[i % 3], "handover.work", f"job {i}".encode())])
        held = collect([first], 12, ack=False)  # the only member has every partition, and acks nothing
        assert sorted(keys(held)) == published
        second = Consumer(b, "handover.work", "handover", from_start=True)
        try:
            wait_members(stubs, "handover.work", "handover", 2)
            first.close()
            got = collect([second], 12)
            assert sorted(keys(got)) == published
        finally:
            second.close()
    finally:
        first.close()


def test_no_event_is_lost_when_a_member_leaves_while_events_flow(trio: list[NodeProcess],
                                                                 stubs: list[node_pb2_grpc.NodeStub]) -> None:
    _, b, c = trio
    staying, leaving = (Consumer(b, "flow.work", "flow", from_start=True),
                        Consumer(c, "flow.work", "flow", from_start=True))
    published: list[tuple[str, int]] = []

    def publish_all() -> None:
        for i in range(60):
            reply = publish(stubs[i % 3], "flow.work", f"job {i}".encode())
            published.append((reply.origin, reply.offset))
            time.sleep(0.02)

    try:
        wait_members(stubs, "flow.work", "flow", 2)
        publisher = threading.Thread(target=publish_all)
        publisher.start()
        got = collect([staying, leaving], 20)
        leaving.close()  # what it was sent but had not acked goes to the other
        publisher.join(timeout=30)
        assert len(published) == 60
        seen = set(keys(got))

        def processed() -> bool:
            for event in staying.drain(0.1):
                seen.add((event.origin, event.offset))
                staying.ack(event)
            return seen >= set(published)

        wait_until(processed, DELIVER, "every event processed")
    finally:
        staying.close()
        leaving.close()

def test_a_killed_consumers_unacked_events_go_to_the_other() -> None:
    with Cluster.temporary("mc-") as cluster:
        a, b, c = cluster.form(3)
        opened = [_stub(node) for node in (a, b, c)]
        stubs = [stub for _, stub in opened]
        survivors = stubs[:2]
        first = Consumer(c, "killed.work", "survivors", from_start=True)
        try:
            wait_members(survivors, "killed.work", "survivors", 1)
            # C's own partition is then read from the replicas that hold it.
            published = sorted((r.origin, r.offset) for i in range(12)
                               for r in [publish(stubs[i % 3], "killed.work", f"job {i}".encode())])
            assert sorted(keys(collect([first], 12, ack=False))) == published
            second = Consumer(b, "killed.work", "survivors", from_start=True)
            try:
                wait_members(survivors, "killed.work", "survivors", 2)
                c.kill(signal.SIGKILL)
                got = collect([second], 12, timeout=30.0)
                assert sorted(keys(got)) == published
            finally:
                second.close()
        finally:
            first.close()
            for channel, _ in opened:
                channel.close()


def test_nacks_redeliver_with_the_next_attempt_then_dead_letter(trio: list[NodeProcess],
                                                                stubs: list[node_pb2_grpc.NodeStub]) -> None:
    a = trio[0]
    consumer = Consumer(a, "nacked.work", from_start=True, max_retries=3)
    dead = Consumer(a, "nacked.work.dead", from_start=True, auto_ack=True)
    try:
        sent = publish(stubs[0], "nacked.work", b"poison", kind="bad")
        attempts = []
        for _ in range(3):
            event = consumer.next()
            assert (event.origin, event.offset, event.data) == (sent.origin, sent.offset, b"poison")
            attempts.append(event.attempt)
            consumer.ack(event, nack=True)
        assert attempts == [1, 2, 3]
        letter = dead.next()
        assert letter.data == b"poison"
        assert dict(letter.headers) == {"kind": "bad", "dead-topic": "nacked.work", "dead-origin": sent.origin,
                                        "dead-offset": str(sent.offset), "dead-attempts": "3",
                                        "dead-group": dict(letter.headers)["dead-group"]}
        assert consumer.drain(0.5) == []
    finally:
        consumer.close()
        dead.close()


def stored_attempts(stub: node_pb2_grpc.NodeStub, key: str) -> bytes | None:
    """The group's redelivery count under `key` in the node's replica of the KV store."""
    try:
        reply = stub.KvGet(node_pb2.KvGetRequest(db=OFFSETS_DB, table=ATTEMPTS_TABLE, key=key), timeout=5)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return reply.record.value


def test_the_retry_limit_holds_when_another_consumer_takes_the_partition_over(
        trio: list[NodeProcess], stubs: list[node_pb2_grpc.NodeStub]) -> None:
    a, b, _ = trio
    first = Consumer(a, "retried.work", "retriers", from_start=True, max_retries=4)
    dead = Consumer(a, "retried.work.dead", from_start=True, auto_ack=True)
    try:
        sent = publish(stubs[0], "retried.work", b"poison")
        for attempt in (1, 2):
            event = first.next()
            assert (event.offset, event.attempt) == (sent.offset, attempt)
            first.ack(event, nack=True)
        assert first.next().attempt == 3  # and then the first consumer goes, acking nothing
        key = attempt_key("retried.work", "retriers", sent.origin, sent.offset)
        wait_until(lambda: stored_attempts(stubs[1], key) == b"3", DELIVER, "B's replica to hold the count")
        first.close()
        second = Consumer(b, "retried.work", "retriers", from_start=True, max_retries=4)
        try:
            event = second.next()
            assert (event.offset, event.attempt, event.data) == (sent.offset, 4, b"poison")
            second.ack(event, nack=True)
            letter = dead.next()
            assert (letter.data, dict(letter.headers)["dead-attempts"]) == (b"poison", "4")
            assert second.drain(0.5) == []
            # Once the dead letter is acked, the committed offset passes the event and its count goes.
            wait_until(lambda: stored_attempts(stubs[0], key) is None, DELIVER, "the count to be deleted")
        finally:
            second.close()
    finally:
        first.close()
        dead.close()


def test_an_event_not_acked_in_time_is_redelivered(trio: list[NodeProcess],
                                                   stubs: list[node_pb2_grpc.NodeStub]) -> None:
    node = trio[1]
    consumer = Consumer(node, "slow.work", from_start=True, ack_wait_s=0.5)
    try:
        sent = publish(stubs[0], "slow.work", b"job")
        first = consumer.next()
        again = consumer.next()
        assert (again.offset, again.attempt) == (first.offset, 2) == (sent.offset, 2)
        unknown = counter(node, "unknown_acks")
        consumer.ack(again)
        consumer.ack(again)  # no longer in flight once the first landed: ignored and counted
        wait_until(lambda: counter(node, "unknown_acks") == unknown + 1, DELIVER, "the repeated ack counted")
        # The ack has landed. On a slow machine the ack wait may have run out again before it did: such a
        # redelivery was sent before it, and none may come after.
        redelivered = counter(node, "redelivered")
        late = consumer.drain(1.0)  # two ack waits
        assert all((e.origin, e.offset) == (sent.origin, sent.offset) for e in late)
        assert counter(node, "redelivered") == redelivered
        assert counter(node, "acked") >= 1 and redelivered >= 1
    finally:
        consumer.close()


def test_a_second_start_ends_the_stream(trio: list[NodeProcess]) -> None:
    consumer = Consumer(trio[0], "restart.work")
    try:
        consumer.send(node_pb2.StreamConsumeInput(start=node_pb2.StreamConsumeStart(topic="restart.work")))
        wait_until(lambda: consumer.error is not None, DELIVER, "the stream to end")
        assert consumer.error is not None and consumer.error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "only acks" in str(consumer.error.details())
    finally:
        consumer.close()


def test_replay_from_the_start_an_offset_and_a_time(trio: list[NodeProcess],
                                                    stubs: list[node_pb2_grpc.NodeStub]) -> None:
    published = [publish(stubs[0], "replay.work", f"e{i}".encode()) for i in range(10)]
    origin = published[0].origin
    assert [r.offset for r in published] == list(range(1, 11))

    def replay(node: NodeProcess, count: int, **start: Any) -> list[node_pb2.StreamEvent]:
        consumer = Consumer(node, "replay.work", auto_ack=True, **start)
        try:
            events = consumer.take(count)
            return events + consumer.drain(0.5)
        finally:
            consumer.close()

    everything = replay(trio[1], 10, from_start=True)
    assert keys(everything) == [(origin, n) for n in range(1, 11)]
    assert [e.data for e in everything] == [f"e{i}".encode() for i in range(10)]
    assert keys(replay(trio[2], 7, offset=4)) == [(origin, n) for n in range(4, 11)]
    assert keys(replay(trio[0], 5, since=everything[5].published_at)) == [(origin, n) for n in range(6, 11)]

    fresh = Consumer(trio[2], "replay.work", auto_ack=True)  # new events only
    try:
        later = [publish(stubs[0], "replay.work", b"late") for _ in range(2)]
        assert keys(fresh.take(2) + fresh.drain(0.5)) == [(origin, r.offset) for r in later] == [(origin, 11),
                                                                                                 (origin, 12)]
    finally:
        fresh.close()


def test_a_new_consumer_continues_after_the_groups_last_ack(trio: list[NodeProcess],
                                                            stubs: list[node_pb2_grpc.NodeStub]) -> None:
    _, b, c = trio
    published = [publish(stubs[0], "resume.work", f"e{i}".encode()) for i in range(10)]
    origin = published[0].origin
    first = Consumer(b, "resume.work", "resumers", from_start=True)
    try:
        events = first.take(10)
        for event in events[:5]:
            first.ack(event)

        def committed() -> bool:
            group = group_of(stubs[2], "resume.work", "resumers")
            return group is not None and dict(group.committed) == {origin: 5} and group.lag == 5

        wait_until(committed, DELIVER, "offset 5 committed")
    finally:
        first.close()
    second = Consumer(c, "resume.work", "resumers", from_start=True)
    try:
        assert keys(second.take(5) + second.drain(0.5)) == [(origin, n) for n in range(6, 11)]
    finally:
        second.close()


def test_a_consumer_cancelled_at_once_still_commits(trio: list[NodeProcess],
                                                    stubs: list[node_pb2_grpc.NodeStub]) -> None:
    published = [publish(stubs[0], "quick.work", b"e") for _ in range(2)]
    consumer = Consumer(trio[0], "quick.work", "quick", from_start=True, auto_ack=True)
    consumer.take(2)
    consumer.close()  # cancelled while the node may be writing its first commit
    heads = {published[0].origin: 2}
    wait_until(lambda: dict(getattr(group_of(stubs[0], "quick.work", "quick"), "committed", {})) == heads,
               DELIVER, "the auto-acked events committed")


def test_a_consumer_that_stops_sending_is_ended_after_its_last_commit(trio: list[NodeProcess],
                                                                      stubs: list[node_pb2_grpc.NodeStub]) -> None:
    published = [publish(stubs[1], "finish.work", b"e") for _ in range(3)]
    consumer = Consumer(trio[1], "finish.work", "finishers", from_start=True)
    try:
        for event in consumer.take(3):
            consumer.ack(event)
        consumer.finish()
        assert consumer.error is None  # ended with OK
        committed = group_of(stubs[1], "finish.work", "finishers")
        assert committed is not None and dict(committed.committed) == {published[0].origin: 3}
    finally:
        consumer.close()


def test_an_auto_ack_consumer_that_sends_only_its_start_goes_on(trio: list[NodeProcess],
                                                                stubs: list[node_pb2_grpc.NodeStub]) -> None:
    for _ in range(300):  # more than one batch
        publish(stubs[0], "only-start.work", b"e")
    start = node_pb2.StreamConsumeStart(topic="only-start.work", from_start=True, auto_ack=True)
    call = stubs[0].StreamConsume(iter([node_pb2.StreamConsumeInput(start=start)]), timeout=DELIVER)
    events: list[node_pb2.StreamEvent] = []
    try:
        for batch in call:
            events.extend(batch.events)
            if len(events) >= 300:
                break
    finally:
        call.cancel()
    assert [e.offset for e in events] == list(range(1, 301))
