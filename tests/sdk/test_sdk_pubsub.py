"""`micro.sdk.pubsub` against two real nodes in one mesh: publishing on one reaches subscribers on the
other, `@service.subscribe` handlers and their queue groups, batched publishes, and local topic checks."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from micro.sdk import Service, errors, pubsub
from micro.sdk.batching import BATCH_ITEMS
from node_harness import PATIENCE, Cluster, NodeProcess, until

pytestmark = pytest.mark.asyncio

_topics = itertools.count()


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[NodeProcess]]:
    with Cluster.temporary("mp-") as cluster:
        yield cluster.form(2)


@pytest.fixture
def topic() -> str:
    """A topic no other test of the session publishes on."""
    return f"test.t{next(_topics)}"


async def _publish_until_heard(bus: pubsub.Pubsub, topic: str, data: object, nodes: int = 1,
                               headers: dict[str, str] | None = None) -> None:
    """Publish once the subscription has reached the publisher's node (gossip takes a moment): a publish
    that no node takes is retried."""
    async def heard() -> bool:
        return await bus.publish(topic, data, headers) >= nodes

    await until(heard, PATIENCE, f"a subscriber of {topic} known to the publisher's node")


def _counter(node: NodeProcess, name: str) -> int:
    return sum(v for k, v in node.status()["counters"].items() if k.endswith(name))


async def _next(messages: pubsub.Subscription) -> pubsub.Message:
    return await asyncio.wait_for(anext(messages), PATIENCE)


async def test_a_publish_on_one_node_reaches_a_subscriber_on_another(nodes: list[NodeProcess], topic: str) -> None:
    a, b = nodes
    async with (pubsub.Pubsub(a.data_dir) as publisher, pubsub.Pubsub(b.data_dir) as subscriber,
                subscriber.subscribe(topic.rsplit(".", 1)[0] + ".*") as messages):
        await _publish_until_heard(publisher, topic, {"n": 1}, headers={"trace": "abc"})
        message = await _next(messages)

    assert message.topic == topic
    assert message.data == b'{"n":1}'
    assert message.json() == {"n": 1}
    assert message.headers == {"trace": "abc"}
    assert message.publisher == a.status()["id"]
    assert message.published_at == pytest.approx(time.time(), abs=60)
    assert messages.dropped == 0


async def test_bytes_are_published_as_they_are(nodes: list[NodeProcess], topic: str) -> None:
    async with pubsub.Pubsub(nodes[0].data_dir) as bus, bus.subscribe(topic) as messages:
        assert await bus.publish(topic, b"\x00\xff") == 1
        message = await _next(messages)

    assert message.data == b"\x00\xff"
    assert "data_base64" in message.to_object()


async def test_a_subscribe_handler_receives_the_messages_while_the_service_runs(
    nodes: list[NodeProcess], topic: str
) -> None:
    service = Service("listener", data_dir=nodes[1].data_dir)
    heard: asyncio.Queue[pubsub.Message] = asyncio.Queue()

    @service.subscribe(topic)
    async def on_message(message: pubsub.Message) -> None:
        if message.json() == "bad":
            raise ValueError("a handler that fails is logged, and the subscription goes on")
        heard.put_nowait(message)

    await service.start()
    try:
        async with pubsub.Pubsub(nodes[0].data_dir) as bus:
            await _publish_until_heard(bus, topic, "bad")
            await bus.publish(topic, "good")
            message = await asyncio.wait_for(heard.get(), PATIENCE)
    finally:
        await service.stop()

    assert message.json() == "good"


async def test_a_group_of_two_services_splits_the_messages(nodes: list[NodeProcess], topic: str) -> None:
    heard: dict[str, list[int]] = {"one": [], "two": []}
    services = []
    for name, node in zip(heard, nodes, strict=True):
        service = Service(name, data_dir=node.data_dir)

        @service.subscribe(topic, group="workers")
        async def on_message(message: pubsub.Message, name: str = name) -> None:
            heard[name].append(message.json())

        services.append(service)
    for service in services:
        await service.start()
    try:
        async with pubsub.Pubsub(nodes[0].data_dir) as bus:
            # Both members known to the publishing node: the group then alternates between them.
            await until(lambda: _counter(nodes[0], "pubsub.remote_subscriptions") >= 1, PATIENCE,
                        "the remote member known to the publishing node")
            await _publish_until_heard(bus, topic, -1)
            await asyncio.gather(*(bus.publish(topic, n) for n in range(40)))
            await until(lambda: sum(map(len, heard.values())) >= 41, PATIENCE, "every message handled")
    finally:
        for service in services:
            await service.stop()

    got = sorted(n for ns in heard.values() for n in ns)
    assert got == [-1, *range(40)]  # each message once, to one member
    assert heard["one"] and heard["two"]


async def test_two_thousand_concurrent_publishes_all_succeed(nodes: list[NodeProcess], topic: str) -> None:
    async with pubsub.Pubsub(nodes[0].data_dir) as bus, bus.subscribe(topic) as messages:
        publishes = asyncio.gather(*(bus.publish(topic, n) for n in range(2000)))
        counts = await asyncio.wait_for(publishes, PATIENCE)
        received = [(await _next(messages)).json() for _ in range(2000)]

    assert counts == [1] * 2000
    # Each arrives once; in no set order, as concurrent publishes travel in several calls at once.
    assert sorted(received) == list(range(2000))


async def test_messages_sent_without_waiting_arrive_in_order_once_flushed(nodes: list[NodeProcess], topic: str) -> None:
    async with pubsub.Pubsub(nodes[0].data_dir) as bus, bus.subscribe(topic) as messages:
        for n in range(3000):
            await bus.send(topic, n)
        await asyncio.wait_for(bus.flush(), 30.0)
        received = [(await _next(messages)).json() for _ in range(3000)]

    assert received == list(range(3000))
    assert bus.failed == 0


async def test_a_sent_message_the_node_refuses_is_counted_and_raised_by_the_next_flush(
    nodes: list[NodeProcess], topic: str
) -> None:
    async with pubsub.Pubsub(nodes[0].data_dir) as bus, bus.subscribe(topic) as messages:
        await bus.send(topic, "before")
        await bus.send(topic, b"x" * ((1 << 20) + 1))
        await bus.send(topic, "after")
        with pytest.raises(errors.BadRequest):
            await bus.flush()
        await bus.flush()  # the failure was told once
        received = [(await _next(messages)).json() for _ in range(2)]

    assert bus.failed == 1
    assert received == ["before", "after"]


async def test_closing_waits_for_what_was_sent(nodes: list[NodeProcess], topic: str) -> None:
    async with pubsub.Pubsub(nodes[1].data_dir) as subscriber, subscriber.subscribe(topic) as messages:
        async with pubsub.Pubsub(nodes[1].data_dir) as bus:
            for n in range(100):
                await bus.send(topic, n)
        received = [(await _next(messages)).json() for _ in range(100)]

    assert received == list(range(100))


async def test_sending_with_no_node_fails_at_the_flush(tmp_path: Path) -> None:
    async with pubsub.Pubsub(tmp_path) as bus:
        await bus.send("orders.created", {})
        with pytest.raises(errors.Unavailable, match="no node running"):
            await asyncio.wait_for(bus.flush(), 30.0)
    assert bus.failed == 1


async def test_a_bad_topic_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    # No node runs at tmp_path: an error that names the topic shows the node was never asked.
    async with pubsub.Pubsub(tmp_path) as bus:
        with pytest.raises(errors.BadRequest, match="wildcards are for subscriptions"):
            await bus.publish("orders.*", {})
        with pytest.raises(errors.BadRequest, match="wildcards are for subscriptions"):
            await bus.send("orders.*", {})
        with pytest.raises(errors.BadRequest, match="headers are strings"):
            await bus.send("orders.created", {}, {"attempt": 2})  # type: ignore[dict-item]
        await bus.flush()  # nothing was queued
        with pytest.raises(errors.BadRequest, match="empty token"):
            bus.subscribe("orders..created")
        with pytest.raises(errors.BadRequest, match="'>' must be the last token"):
            bus.subscribe("orders.>.created")


async def test_a_payload_over_the_limit_is_a_bad_request(nodes: list[NodeProcess], topic: str) -> None:
    async with pubsub.Pubsub(nodes[0].data_dir) as bus:
        with pytest.raises(errors.BadRequest):
            await bus.publish(topic, b"x" * ((1 << 20) + 1))
        assert await bus.publish(topic, b"x") == 0  # the connection still works


async def test_a_subscriber_that_falls_behind_its_queue_counts_what_it_lost(
    nodes: list[NodeProcess], topic: str
) -> None:
    count = 2 * BATCH_ITEMS
    async with pubsub.Pubsub(nodes[0].data_dir) as bus, bus.subscribe(topic, queue_limit=1) as messages:
        # Rounds of publishes made in one turn, each round one PublishMany call (as many as a call takes),
        # the next once it is answered: the node takes them all in this order, a call's worth at once,
        # faster than the stream drains a queue of one. (One gather of all would go in calls in flight
        # together, which may overtake each other.) None is read meanwhile.
        for first in range(0, count, BATCH_ITEMS):
            await asyncio.gather(*(bus.publish(topic, n) for n in range(first, first + BATCH_ITEMS)))
        received: list[int] = []
        while len(received) + messages.dropped < count:
            received.append((await _next(messages)).json())

    assert messages.dropped > 0
    assert len(received) + messages.dropped == count
    assert received == sorted(received)  # what does arrive keeps its order
