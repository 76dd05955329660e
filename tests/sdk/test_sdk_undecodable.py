"""Payloads that are no JSON a client can decode (deep nesting, numbers out of range, integers past the
digit limit) against a real node: `json()` says so with ValueError, the CLI's and the gateway's view shows
them as `data_base64`, and subscribers and consumers, the SDK's own and `@service` ones, go on with the
messages after them. A publisher cannot send such a value as JSON in the first place."""

from __future__ import annotations

import asyncio
import base64
import itertools
import math

import pytest
from micro.sdk import Service, errors, events, pubsub
from node_harness import NodeProcess

pytestmark = pytest.mark.asyncio

_topics = itertools.count()
UNDECODABLE = {
    "nested 100,000 deep": b"[" * 100_000,
    "a number out of range": b"1e999999",
    "an integer of 5,000 digits": b"9" * 5000,
    "NaN": b"NaN",
    "not UTF-8": b'"\xff"',
}
"""Payloads any node passes on as the bytes they are; json.loads alone raises RecursionError on the first,
returns inf and nan for the second and fourth."""
GOOD = {"after": "the bad ones"}


@pytest.fixture
def topic() -> str:
    return f"undecodable.t{next(_topics)}"


@pytest.mark.parametrize("payload", UNDECODABLE.values(), ids=UNDECODABLE.keys())
async def test_json_of_an_undecodable_payload_is_a_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError):
        pubsub.Message("t", payload).json()


@pytest.mark.parametrize("payload", UNDECODABLE.values(), ids=UNDECODABLE.keys())
async def test_the_printed_view_of_an_undecodable_payload_is_base64(payload: bytes) -> None:
    shown = events.Event("t", "N1", 1, 0.0, payload).to_object()

    assert "data" not in shown
    assert base64.b64decode(shown["data_base64"]) == payload


@pytest.mark.parametrize("value", [math.nan, math.inf, [-math.inf]], ids=["nan", "inf", "in a list"])
async def test_publishing_a_number_json_has_not_is_a_bad_request(node: NodeProcess, topic: str,
                                                                 value: object) -> None:
    async with pubsub.Pubsub(node.data_dir) as bus:
        with pytest.raises(errors.BadRequest, match="not JSON"):
            await bus.publish(topic, value)


def _decoded(data: pubsub.Message | events.Event) -> object:
    """The payload as JSON, or "undecodable" when `json()` says it is not (the way a handler would ask)."""
    try:
        return data.json()
    except ValueError:
        return "undecodable"


async def test_a_subscription_delivers_the_messages_after_undecodable_ones(node: NodeProcess, topic: str) -> None:
    async with pubsub.Pubsub(node.data_dir) as bus, bus.subscribe(topic) as messages:
        for payload in UNDECODABLE.values():
            assert await bus.publish(topic, payload) == 1
        await bus.publish(topic, GOOD)
        got = [_decoded(await asyncio.wait_for(anext(messages), 10)) for _ in range(len(UNDECODABLE) + 1)]

    assert got == ["undecodable"] * len(UNDECODABLE) + [GOOD]


async def test_a_service_subscriber_handles_the_messages_after_undecodable_ones(node: NodeProcess,
                                                                                 topic: str) -> None:
    service = Service("undecodable-listener", data_dir=node.data_dir)
    got: asyncio.Queue[object] = asyncio.Queue()

    @service.subscribe(topic)
    async def on_message(message: pubsub.Message) -> None:
        got.put_nowait(_decoded(message))

    await service.start()
    try:
        async with pubsub.Pubsub(node.data_dir) as bus:
            for payload in [*UNDECODABLE.values(), GOOD]:
                await bus.publish(topic, payload)
            heard = [await asyncio.wait_for(got.get(), 10) for _ in range(len(UNDECODABLE) + 1)]
    finally:
        await service.stop()

    assert heard == ["undecodable"] * len(UNDECODABLE) + [GOOD]


async def test_a_consumer_delivers_the_events_after_undecodable_ones(node: NodeProcess, topic: str) -> None:
    async with events.Events(node.data_dir) as ev:
        for payload in [*UNDECODABLE.values(), GOOD]:
            await ev.publish(topic, payload)
        async with ev.consume(topic, from_start=True) as consumer:
            got = []
            for _ in range(len(UNDECODABLE) + 1):
                event = await asyncio.wait_for(anext(consumer), 10)
                got.append(_decoded(event))
                await event.ack()

    assert got == ["undecodable"] * len(UNDECODABLE) + [GOOD]


async def test_a_service_consumer_handles_the_events_after_undecodable_ones(node: NodeProcess, topic: str) -> None:
    service = Service("undecodable-consumer", data_dir=node.data_dir)
    got: asyncio.Queue[object] = asyncio.Queue()

    @service.consume(topic, group="handlers", from_start=True)
    async def on_event(event: events.Event) -> None:
        got.put_nowait(_decoded(event))

    async with events.Events(node.data_dir) as ev:
        for payload in [*UNDECODABLE.values(), GOOD]:
            await ev.publish(topic, payload)
    await service.start()
    try:
        handled = [await asyncio.wait_for(got.get(), 10) for _ in range(len(UNDECODABLE) + 1)]
    finally:
        await service.stop()

    assert handled == ["undecodable"] * len(UNDECODABLE) + [GOOD]
