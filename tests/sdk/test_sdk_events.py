"""`micro.sdk.events` against two real nodes in one mesh: events published on one are consumed in a group
on the other and acked, a nack or a missing ack brings an event again, replays start where asked,
`@service.consume` acks and nacks by its handler's outcome, and bad options never reach a node."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from micro.sdk import Service, errors, events
from node_harness import PATIENCE, Cluster, NodeProcess, until, wait_until

pytestmark = pytest.mark.asyncio

_topics = itertools.count()
_QUIET = 0.5
"""Seconds a consumer must stay silent for a test to say nothing more came."""


@pytest.fixture(scope="module")
def nodes() -> Iterator[list[NodeProcess]]:
    with Cluster.temporary("me-") as cluster:
        yield cluster.form(2)


@pytest.fixture
def topic() -> str:
    """A topic no other test of the session uses."""
    return f"events.t{next(_topics)}"


async def _take(consumer: events.Consumer, count: int, ack: bool = True,
                timeout: float = PATIENCE) -> list[events.Event]:
    """The next `count` events (acked unless told not to), within `timeout` seconds."""
    async def take() -> list[events.Event]:
        taken = []
        async for event in consumer:
            taken.append(event)
            if ack:
                await event.ack()
            if len(taken) == count:
                break
        return taken

    return await asyncio.wait_for(take(), timeout)


async def _nothing_more(consumer: events.Consumer) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(consumer), _QUIET)


async def _publish(ev: events.Events, topic: str, count: int) -> list[events.Published]:
    return [await ev.publish(topic, {"n": n}) for n in range(count)]


async def test_events_published_on_one_node_are_consumed_and_acked_in_a_group_on_another(
        nodes: list[NodeProcess], topic: str) -> None:
    a, b = nodes
    async with events.Events(a.data_dir) as publisher, events.Events(b.data_dir) as consumer_side:
        published = await asyncio.gather(*(publisher.publish(topic, {"n": n}, {"k": str(n)}) for n in range(20)))
        async with consumer_side.consume(topic, "workers", from_start=True) as consumer:
            got = await _take(consumer, 20)

    origin = a.status()["id"]
    assert {p.origin for p in published} == {origin}
    assert sorted(p.offset for p in published) == list(range(1, 21))
    assert [e.offset for e in got] == list(range(1, 21))
    assert sorted(e.json()["n"] for e in got) == list(range(20))
    assert all(e.origin == origin and e.topic == topic and e.attempt == 1 for e in got)
    assert {e.headers["k"] for e in got} == {str(n) for n in range(20)}

    def lag() -> list[tuple[str, int, dict[str, int]]]:
        with b.client() as client:
            return [(g["name"], g["lag"], g["committed"]) for g in client.stream_info(topic)["groups"]]

    wait_until(lambda: lag() == [("workers", 0, {origin: 20})], PATIENCE,
               "the group's offsets to be committed")


async def test_two_consumers_of_a_group_together_get_every_partitions_events(nodes: list[NodeProcess],
                                                                            topic: str) -> None:
    a, b = nodes
    async with events.Events(a.data_dir) as on_a, events.Events(b.data_dir) as on_b:
        published = {(p.origin, p.offset) for p in [*await _publish(on_a, topic, 5), *await _publish(on_b, topic, 5)]}
        async with (on_a.consume(topic, "sharers", from_start=True) as first,
                    on_b.consume(topic, "sharers", from_start=True) as second):
            seen: dict[str, set[tuple[str, int]]] = {"first": set(), "second": set()}

            async def drain(name: str, consumer: events.Consumer) -> None:
                async for event in consumer:
                    seen[name].add((event.origin, event.offset))
                    await event.ack()

            tasks = [asyncio.create_task(drain("first", first)), asyncio.create_task(drain("second", second))]
            try:
                await until(lambda: seen["first"] | seen["second"] == published, PATIENCE, "every event")
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    assert len({origin for origin, _ in published}) == 2
    assert seen["first"] | seen["second"] == published


async def test_two_thousand_concurrent_publishes_are_acknowledged_and_a_bad_one_fails_alone(
        nodes: list[NodeProcess], topic: str) -> None:
    async with events.Events(nodes[0].data_dir) as ev:
        published = await asyncio.wait_for(asyncio.gather(*(ev.publish(topic, n) for n in range(2000))), 30.0)
        # Payloads over 1 MiB are refused by the node, so this one shares a batch with the good ones.
        mixed = await asyncio.wait_for(asyncio.gather(
            ev.publish(topic, "before"), ev.publish(topic, b"x" * ((1 << 20) + 1)), ev.publish(topic, "after"),
            return_exceptions=True), PATIENCE)

    assert {p.origin for p in published} == {nodes[0].status()["id"]}
    assert sorted(p.offset for p in published) == list(range(1, 2001))
    before, bad, after = mixed
    assert isinstance(bad, errors.BadRequest)
    assert isinstance(before, events.Published) and isinstance(after, events.Published)
    assert (before.offset, after.offset) == (2001, 2002)


async def test_a_nacked_event_comes_again_with_attempt_2(nodes: list[NodeProcess], topic: str) -> None:
    a, b = nodes
    async with events.Events(a.data_dir) as publisher, events.Events(b.data_dir) as consumer_side:
        await publisher.publish(topic, b"\xff raw")
        async with consumer_side.consume(topic, "nackers", from_start=True) as consumer:
            [first] = await _take(consumer, 1, ack=False)
            await first.nack()
            [again] = await _take(consumer, 1)
            await _nothing_more(consumer)

    assert (first.attempt, again.attempt) == (1, 2)
    assert (again.origin, again.offset, again.data) == (first.origin, first.offset, b"\xff raw")
    assert again.to_object()["data_base64"] == "/yByYXc="


async def test_an_event_not_acked_within_ack_wait_comes_again(nodes: list[NodeProcess], topic: str) -> None:
    a, _ = nodes
    async with events.Events(a.data_dir) as ev:
        await ev.publish(topic, "late")
        async with ev.consume(topic, from_start=True, ack_wait=1.0) as consumer:
            [first] = await _take(consumer, 1, ack=False)
            [again] = await _take(consumer, 1)

    assert (first.attempt, again.attempt, again.offset) == (1, 2, first.offset)


async def test_replays_start_from_the_start_an_offset_or_a_time(nodes: list[NodeProcess], topic: str) -> None:
    a, b = nodes
    async with events.Events(a.data_dir) as publisher:
        await _publish(publisher, topic, 3)
        async with events.Events(b.data_dir) as ev, ev.consume(topic, from_start=True) as consumer:
            since = (await _take(consumer, 3))[-1].published_at + 0.01
        # The later events are published strictly after `since` (the nodes' clock is this machine's).
        await until(lambda: time.time() > since, PATIENCE, "the clock to pass `since`")
        await _publish(publisher, topic, 2)

    async with events.Events(b.data_dir) as ev:
        async with ev.consume(topic, from_start=True) as consumer:
            from_start = [e.offset for e in await _take(consumer, 5)]
            await _nothing_more(consumer)
        async with ev.consume(topic, offset=3) as consumer:
            from_offset = [e.offset for e in await _take(consumer, 3)]
            await _nothing_more(consumer)
        async with ev.consume(topic, since=since) as consumer:
            from_since = [e.offset for e in await _take(consumer, 2)]
            await _nothing_more(consumer)

    assert (from_start, from_offset, from_since) == ([1, 2, 3, 4, 5], [3, 4, 5], [4, 5])


async def test_a_group_resumes_after_its_committed_offset(nodes: list[NodeProcess], topic: str) -> None:
    a, b = nodes
    async with events.Events(a.data_dir) as publisher, events.Events(b.data_dir) as ev:
        await _publish(publisher, topic, 2)
        async with ev.consume(topic, "resumers", from_start=True) as consumer:
            await _take(consumer, 2)
        await _publish(publisher, topic, 1)
        async with ev.consume(topic, "resumers", from_start=True) as consumer:
            resumed = [e.offset for e in await _take(consumer, 1)]
            await _nothing_more(consumer)

    assert resumed == [3]


@pytest.mark.parametrize(("options", "words"), [
    ({"from_start": True, "offset": 2}, "choose one of from_start, offset and since"),
    ({"offset": 1, "since": 0.0}, "choose one of"),
    ({"offset": 0}, "offsets start at 1"),
    ({"ack_wait": 0.0}, "ack_wait"),
    ({"max_retries": 0}, "max_retries"),
    ({"max_in_flight": 10**6}, "max_in_flight"),
])
async def test_bad_consume_options_are_refused_before_anything_is_sent(tmp_path: Path, options: dict[str, object],
                                                                      words: str) -> None:
    async with events.Events(tmp_path / "no-node") as ev:  # BadRequest, not Unavailable: nothing was sent
        with pytest.raises(errors.BadRequest, match=words):
            ev.consume("events.fine", **options)  # type: ignore[arg-type]


async def test_bad_topics_and_headers_are_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with events.Events(tmp_path / "no-node") as ev:
        with pytest.raises(errors.BadRequest, match="wildcards"):
            await ev.publish("events.*", 1)
        with pytest.raises(errors.BadRequest, match="headers are strings"):
            await ev.publish("events.fine", 1, {b"raw": "x"})  # type: ignore[dict-item]
        with pytest.raises(errors.BadRequest, match="invalid topic"):
            ev.consume("events..x")


async def test_a_bad_group_is_the_nodes_bad_request(nodes: list[NodeProcess], topic: str) -> None:
    async with events.Events(nodes[0].data_dir) as ev:
        with pytest.raises(errors.BadRequest, match="invalid consumer group"):
            async with ev.consume(topic, "no spaces"):
                pass


async def test_without_a_node_consuming_is_unavailable(tmp_path: Path) -> None:
    async with events.Events(tmp_path / "no-node") as ev:
        with pytest.raises(errors.Unavailable, match="no node running"):
            async with ev.consume("events.fine"):
                pass


async def test_service_consume_acks_on_return_and_nacks_on_exception(nodes: list[NodeProcess], topic: str) -> None:
    a, b = nodes
    service = Service("consumer-test", data_dir=b.data_dir)
    seen: list[tuple[int, int]] = []
    done = asyncio.Event()

    @service.consume(topic, group="handlers", from_start=True)
    async def handle(event: events.Event) -> None:
        seen.append((event.json()["n"], event.attempt))
        if event.attempt == 1 and event.json()["n"] == 1:
            raise RuntimeError("the first try fails")
        if len(seen) == 3:
            done.set()

    async with events.Events(a.data_dir) as publisher:
        await _publish(publisher, topic, 2)
    await service.start()
    try:
        await asyncio.wait_for(done.wait(), PATIENCE)
    finally:
        await service.stop()

    assert sorted(seen) == [(0, 1), (1, 1), (1, 2)]

    def lag() -> int:
        with b.client() as client:
            return int(sum(g["lag"] for g in client.stream_info(topic)["groups"] if g["name"] == "handlers"))

    wait_until(lambda: lag() == 0, PATIENCE, "the handled events to be committed")


async def test_service_consume_checks_its_options_when_declared(tmp_path: Path) -> None:
    service = Service("consumer-test", data_dir=tmp_path)

    with pytest.raises(errors.BadRequest, match="choose one of"):
        service.consume("events.fine", from_start=True, offset=3)


async def test_a_consumer_closed_at_once_still_commits_its_groups_position(nodes: list[NodeProcess],
                                                                            topic: str) -> None:
    a, _ = nodes
    async with events.Events(a.data_dir) as ev:
        await _publish(ev, topic, 2)
        consumer = await ev.consume(topic, "quick", from_start=True, auto_ack=True).__aenter__()
        await _take(consumer, 2)
        consumer.close()  # at once: no grace

    def committed() -> dict[str, int]:
        with a.client() as client:
            return {o: n for g in client.stream_info(topic)["groups"] if g["name"] == "quick"
                    for o, n in g["committed"].items()}

    wait_until(lambda: committed() == {a.status()["id"]: 2}, PATIENCE,
               "the auto-acked events to be committed")
