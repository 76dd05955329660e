"""Pubsub through real node processes on 127.0.0.1, over each node's local API (gRPC on its unix socket).

The tests share one three-node mesh; each uses its own topics, so they do not see each other's messages.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Iterator

import grpc
import pytest
from micro.node.api.client import LOCAL_CHANNEL_OPTIONS
from micro.node.api.proto import node_pb2, node_pb2_grpc
from node_harness import PATIENCE, Cluster, NodeProcess, wait_until

DELIVER = PATIENCE


class Subscription:
    """One `Subscribe` stream read on a thread; `next()` waits for a message."""

    def __init__(self, node: NodeProcess, topic: str, group: str = "", queue_limit: int = 0,
                 read: bool = True) -> None:
        self._channel = grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}", options=LOCAL_CHANNEL_OPTIONS)
        self._call = node_pb2_grpc.NodeStub(self._channel).Subscribe(
            node_pb2.SubscribeRequest(topic=topic, group=group, queue_limit=queue_limit))
        # The node sends the headers once the subscription is registered.
        self._call.initial_metadata()
        self.messages: queue.Queue[node_pb2.PubsubMessage] = queue.Queue()
        self.dropped = 0
        if read:
            self.read()

    def read(self) -> None:
        """Start reading the stream (a subscription made with `read=False` holds back until then)."""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for batch in self._call:
                self.dropped = batch.dropped
                for message in batch.messages:
                    self.messages.put(message)
        except grpc.RpcError:
            pass

    def next(self, timeout: float = DELIVER) -> node_pb2.PubsubMessage:
        return self.messages.get(timeout=timeout)

    def take(self, count: int) -> list[node_pb2.PubsubMessage]:
        """The next `count` messages, each waited for up to `DELIVER` seconds."""
        return [self.next() for _ in range(count)]

    def drain(self, settle: float = 0.5) -> list[node_pb2.PubsubMessage]:
        """Every message that arrives until none came for `settle` seconds. Tests wait for what they expect
        (`take`) and drain only to see that nothing more came: a slow machine can make a drain miss a late
        message, never fail a test that got what it expected."""
        out = []
        while True:
            try:
                out.append(self.messages.get(timeout=settle))
            except queue.Empty:
                return out

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()


class Api:
    """The local API of one node, for publishing."""

    def __init__(self, node: NodeProcess) -> None:
        self._channel = grpc.insecure_channel(f"unix:{node.data_dir / 'node.sock'}", options=LOCAL_CHANNEL_OPTIONS)
        self.stub = node_pb2_grpc.NodeStub(self._channel)

    def publish(self, topic: str, data: bytes = b"", **headers: str) -> int:
        return int(self.stub.Publish(node_pb2.PublishRequest(topic=topic, data=data, headers=headers),
                                     timeout=5).nodes)

    def close(self) -> None:
        self._channel.close()


@pytest.fixture(scope="module")
def apis(trio: list[NodeProcess]) -> Iterator[list[Api]]:
    opened = [Api(node) for node in trio]
    yield opened
    for api in opened:
        api.close()


def shares(subscriptions: list[Subscription], count: int) -> list[list[bytes]]:
    """The data each subscription got, once `count` messages came to them together (and whatever more
    came before they fell quiet)."""
    got: list[list[bytes]] = [[] for _ in subscriptions]

    def arrived() -> bool:
        for share, subscription in zip(got, subscriptions, strict=True):
            share.extend(m.data for m in subscription.drain(settle=0))
        return sum(map(len, got)) >= count

    wait_until(arrived, DELIVER, f"{count} messages")
    for share, subscription in zip(got, subscriptions, strict=True):
        share.extend(m.data for m in subscription.drain())
    return got


def counter(node: NodeProcess, name: str) -> int:
    return int(node.status()["counters"].get(f"pubsub.{name}", 0))


def forgot_all(node: NodeProcess) -> bool:
    return counter(node, "subscriptions") == 0 == counter(node, "remote_subscriptions")


def wait_remote(node: NodeProcess, count: int) -> None:
    """Until `node` knows at least `count` subscription records of other nodes."""
    wait_until(lambda: counter(node, "remote_subscriptions") >= count, DELIVER,
               f"{node.name} to see {count} remote subscriptions")


@pytest.fixture(autouse=True)
def no_subscriptions_left(trio: list[NodeProcess]) -> Iterator[None]:
    """After each test every subscription is gone everywhere, so the next starts from none."""
    yield
    for node in trio:
        wait_until(functools.partial(forgot_all, node), DELIVER, f"{node.name} to forget every subscription")


def test_a_subscriber_gets_what_is_published_on_its_own_node(trio: list[NodeProcess], apis: list[Api]) -> None:
    sub = Subscription(trio[0], "local.greeting")
    try:
        assert apis[0].publish("local.greeting", b"hello", lang="en") == 1
        message = sub.next()
        assert (message.topic, message.data, dict(message.headers)) == ("local.greeting", b"hello", {"lang": "en"})
        assert message.publisher == trio[0].status()["id"]
        assert message.published_at > 0
    finally:
        sub.close()


def test_a_subscriber_on_one_node_gets_what_is_published_on_another(trio: list[NodeProcess],
                                                                     apis: list[Api]) -> None:
    a, _, c = trio
    sub = Subscription(c, "orders.created")
    try:
        wait_remote(a, 1)
        assert apis[0].publish("orders.created", b"order 1", region="eu") == 1
        message = sub.next()
        assert (message.topic, message.data, dict(message.headers)) == ("orders.created", b"order 1",
                                                                        {"region": "eu"})
        assert message.publisher == a.status()["id"]
    finally:
        sub.close()


def test_wildcards_match_one_token_and_the_rest(trio: list[NodeProcess], apis: list[Api]) -> None:
    a, _, c = trio
    one, rest = Subscription(c, "shop.*.created"), Subscription(c, "metrics.>")
    try:
        wait_remote(a, 2)
        for topic in ("shop.eu.created", "shop.eu.fr.created", "shop.created", "metrics.cpu", "metrics.cpu.load",
                      "metrics", "other.cpu"):
            apis[0].publish(topic, topic.encode())
        assert [m.topic for m in one.take(1) + one.drain()] == ["shop.eu.created"]
        assert [m.topic for m in rest.take(2) + rest.drain()] == ["metrics.cpu", "metrics.cpu.load"]
    finally:
        one.close()
        rest.close()


def test_a_queue_group_gets_each_message_once_across_its_members(trio: list[NodeProcess],
                                                                   apis: list[Api]) -> None:
    a, b, c = trio
    members = [Subscription(b, "jobs.>", group="workers"), Subscription(c, "jobs.>", group="workers")]
    try:
        wait_remote(a, 2)
        sent = [f"job {i}".encode() for i in range(40)]
        for data in sent:
            assert apis[0].publish("jobs.build", data) == 1
        got = shares(members, len(sent))
        assert sorted(got[0] + got[1]) == sorted(sent)
        assert got[0] and got[1]
    finally:
        for member in members:
            member.close()


def test_every_member_of_a_queue_group_gets_a_share_the_publishers_node_included(trio: list[NodeProcess],
                                                                                  apis: list[Api]) -> None:
    a, b, _ = trio
    members = [Subscription(a, "tasks.*", group="pool"), Subscription(b, "tasks.*", group="pool"),
               Subscription(b, "tasks.*", group="pool")]
    try:
        wait_remote(a, 1)
        wait_until(lambda: counter(b, "subscriptions") == 2, DELIVER, "both members on b")
        sent = [f"task {i}".encode() for i in range(30)]
        for data in sent:
            apis[0].publish("tasks.resize", data)
        got = shares(members, len(sent))
        assert sorted(data for share in got for data in share) == sorted(sent)
        assert all(got)
    finally:
        for member in members:
            member.close()


def test_a_plain_subscriber_and_a_group_on_one_node_both_get_a_message(trio: list[NodeProcess],
                                                                         apis: list[Api]) -> None:
    a, b, _ = trio
    plain, grouped = Subscription(b, "mail.sent"), Subscription(b, "mail.*", group="audit")
    try:
        wait_remote(a, 2)
        assert apis[0].publish("mail.sent", b"to ada") == 1
        assert plain.next().data == b"to ada"
        assert grouped.next().data == b"to ada"
    finally:
        plain.close()
        grouped.close()


def test_unsubscribing_removes_the_subscription_from_the_mesh(trio: list[NodeProcess], apis: list[Api]) -> None:
    a, b, _ = trio
    local, remote = Subscription(a, "leaving.now"), Subscription(b, "leaving.now")
    wait_remote(a, 1)
    assert apis[0].publish("leaving.now") == 2
    local.close()
    remote.close()
    wait_until(functools.partial(forgot_all, a), DELIVER, "the subscriptions to be forgotten")
    assert apis[0].publish("leaving.now") == 0


def rss(node: NodeProcess) -> int:
    """Resident memory of the node process, in bytes."""
    assert node.proc is not None
    with open(f"/proc/{node.proc.pid}/status") as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_subscriber_that_stops_reading_slows_no_one(trio: list[NodeProcess], apis: list[Api]) -> None:
    a, b, _ = trio
    slow = Subscription(b, "firehose", queue_limit=100, read=False)
    fast = Subscription(b, "firehose")
    try:
        wait_remote(a, 1)  # one record: both subscribe to the same topic, in no group
        before = rss(b)
        payload = b"x" * 4096
        count, per_call = 2000, 100
        # Every publish is answered although the slow one reads nothing (were it waited on, none would be).
        for first in range(0, count, per_call):
            request = node_pb2.PublishManyRequest(messages=[
                node_pb2.PublishRequest(topic="firehose", data=payload, headers={"n": str(i)})
                for i in range(first, first + per_call)])
            results = apis[0].stub.PublishMany(request, timeout=DELIVER).results
            assert [r.nodes for r in results] == [1] * per_call
        got = [int(m.headers["n"]) for m in fast.take(count) + fast.drain()]
        assert got == list(range(count))
        dropped = counter(b, "dropped_slow")
        assert dropped > 0
        assert rss(b) - before < 64 << 20
        # What the slow one did not lose waited for it (in its queue and the stream's flow-control window).
        slow.read()
        kept: list[node_pb2.PubsubMessage] = []

        def all_accounted_for() -> bool:
            kept.extend(slow.drain(settle=0))
            return len(kept) + slow.dropped >= count

        wait_until(all_accounted_for, DELIVER, "the slow subscriber to read what was kept for it")
        kept += slow.drain()
        assert len(kept) + slow.dropped == count
        assert slow.dropped == dropped
    finally:
        slow.close()
        fast.close()


@pytest.mark.parametrize(("topic", "data", "headers", "words"), [
    ("orders..created", b"", {}, "empty token"),
    ("orders.*", b"", {}, "wildcards"),
    ("orders.>", b"", {}, "wildcards"),
    ("orders.big", b"x" * ((1 << 20) + 1), {}, "at most 1048576"),
    ("orders.big", b"", {"h": "x" * (65 << 10)}, "headers"),
])
def test_a_bad_publish_is_refused_and_delivers_nothing(trio: list[NodeProcess], apis: list[Api], topic: str,
                                                        data: bytes, headers: dict[str, str], words: str) -> None:
    sub = Subscription(trio[0], "orders.>")
    try:
        with pytest.raises(grpc.RpcError) as refused:
            apis[0].publish(topic, data, **headers)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert words in (refused.value.details() or "")
        apis[0].publish("orders.good")
        assert sub.next().topic == "orders.good"
        assert sub.drain(settle=0.2) == []
    finally:
        sub.close()


def test_publish_many_answers_each_message_on_its_own(trio: list[NodeProcess], apis: list[Api]) -> None:
    sub = Subscription(trio[0], "batch.*")
    try:
        request = node_pb2.PublishManyRequest(messages=[
            node_pb2.PublishRequest(topic="batch.one", data=b"1"),
            node_pb2.PublishRequest(topic="batch.>", data=b"bad"),
            node_pb2.PublishRequest(topic="batch.two", data=b"2"),
        ])
        results = apis[0].stub.PublishMany(request, timeout=5).results
        assert [(r.nodes, r.code) for r in results] == [(1, ""), (0, "INVALID_ARGUMENT"), (1, "")]
        assert "wildcards" in results[1].message
        assert [m.data for m in sub.take(2) + sub.drain()] == [b"1", b"2"]
    finally:
        sub.close()


@pytest.mark.parametrize(("topic", "group", "queue_limit", "words"), [
    ("orders.>.created", "", 0, "'>' must be the last token"),
    ("orders..created", "", 0, "empty token"),
    ("orders.*", "bad group!", 0, "invalid queue group"),
    ("orders.*", "g" * 65, 0, "invalid queue group"),
    ("orders.*", "", 2_000_000, "queue_limit"),
])
def test_a_bad_subscription_is_refused_and_registers_nothing(trio: list[NodeProcess], topic: str, group: str,
                                                             queue_limit: int, words: str) -> None:
    with grpc.insecure_channel(f"unix:{trio[0].data_dir / 'node.sock'}") as channel:
        call = node_pb2_grpc.NodeStub(channel).Subscribe(
            node_pb2.SubscribeRequest(topic=topic, group=group, queue_limit=queue_limit), timeout=5)
        with pytest.raises(grpc.RpcError) as refused:
            next(call)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in (refused.value.details() or "")
    assert counter(trio[0], "subscriptions") == 0


def test_a_garbage_peer_frame_is_counted_and_dropped(trio: list[NodeProcess], apis: list[Api]) -> None:
    node = trio[1]
    before = counter(node, "dropped_frames")
    with grpc.insecure_channel(node.address) as channel:
        frames = iter([node_pb2.Frame(data=b"not a sealed batch"), node_pb2.Frame(data=b"")])
        node_pb2_grpc.PeerStub(channel).Publish(frames, timeout=5)
    assert counter(node, "dropped_frames") == before + 2
    sub = Subscription(node, "still.alive")
    try:
        assert apis[1].publish("still.alive", b"yes") == 1
        assert sub.next().data == b"yes"
    finally:
        sub.close()


def test_publishing_to_a_node_that_died_drops_and_recovers_when_it_returns(cluster: Cluster) -> None:
    a, b = cluster.form(2)
    api = Api(a)
    sub = Subscription(b, "beats")
    try:
        wait_remote(a, 1)
        assert api.publish("beats", b"before") == 1
        assert sub.next().data == b"before"
        b.kill()  # with its subscription: only its death removes it
        sub.close()
        # Publishing never waits on the dead node; once it is declared dead its subscription goes too.
        wait_until(lambda: api.publish("beats", b"into the void") == 0, DELIVER, "b's subscription to go")
        assert counter(a, "link_failures") >= 1
        b.start()
        sub = Subscription(b, "beats")
        wait_remote(a, 1)
        assert api.publish("beats", b"after") == 1
        assert sub.next().data == b"after"
    finally:
        sub.close()
        api.close()
