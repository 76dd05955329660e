"""Server-streaming endpoints, and any call asked for `text/event-stream`, answer with server-sent events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from gateway_services import BROKEN, CANCELLED_STREAMS

pytestmark = pytest.mark.asyncio


async def _events(response: ClientResponse) -> list[tuple[str, Any]]:
    """(event type, JSON data) of each event in an SSE body, parsed as a browser's EventSource would."""
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for block in (await response.text()).split("\n\n"):
        if not block:
            continue
        kind, data = "message", []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)
        events.append((kind, json.loads("\n".join(data))))
    return events


async def test_a_streaming_json_endpoint_sends_an_event_per_reply(client: TestClient) -> None:
    response = await client.post("/helloworld/count", json={"count": 3})
    assert await _events(response) == [("message", {"n": 0}), ("message", {"n": 1}), ("message", {"n": 2})]


async def test_a_streaming_protobuf_endpoint_sends_json_events(client: TestClient) -> None:
    response = await client.get("/library/books/list", params={"count": "2", "tag": "sf"})
    titles = [(kind, data["title"], data["tags"]) for kind, data in await _events(response)]
    assert titles == [("message", "Book 0", ["sf"]), ("message", "Book 1", ["sf"])]


async def test_a_stream_that_fails_ends_with_an_error_event(client: TestClient) -> None:
    response = await client.post("/helloworld/count", json={"count": 1, "fail": "UNAVAILABLE"})
    events = await _events(response)
    assert events[0] == ("message", {"n": 0})
    kind, error = events[1]
    assert (kind, error["code"], error["status"], error["id"]) == ("error", 503, "UNAVAILABLE", "helloworld")


async def test_a_stream_past_the_deadline_ends_with_a_504_error_event(client: TestClient) -> None:
    response = await client.post(
        "/helloworld/slow", json={"seconds": 5}, headers={"Accept": "text/event-stream", "Timeout": "0.2"}
    )
    [(kind, error)] = await _events(response)
    assert (kind, error["code"]) == ("error", 504)


async def test_a_unary_endpoint_asked_for_events_sends_one(client: TestClient) -> None:
    response = await client.post(
        "/helloworld/call", json={"name": "e"}, headers={"Accept": "text/event-stream"}
    )
    assert await _events(response) == [("message", {"msg": "Hello e"})]


async def test_a_bad_request_to_a_streaming_endpoint_is_a_plain_400(client: TestClient) -> None:
    response = await client.post("/library/books/list", json={"count": "x"})
    assert (response.status, (await response.json())["status"]) == (400, "INVALID_ARGUMENT")


async def test_a_client_that_leaves_a_stream_cancels_the_call(client: TestClient) -> None:
    response = await client.post("/helloworld/count", json={"count": 1000, "pace": 0.05})
    assert (await response.content.readuntil(b"\n\n")).startswith(b"data: {")
    response.close()
    async with asyncio.timeout(30):  # a moment when idle; a loaded machine may take many times longer
        while 1000 not in CANCELLED_STREAMS:
            await asyncio.sleep(0.05)


async def test_a_streaming_reply_that_does_not_parse_is_skipped_with_a_counted_warning_and_the_stream_goes_on(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.get("/library/books/list", params={"count": "3", "tag": BROKEN})
    events = await _events(response)

    assert [(kind, data["title"]) for kind, data in events] == [("message", "Book 0"), ("message", "Book 2")]
    [warning] = [r for r in caplog.records if r.name == "micro.gateway"]
    assert (warning.levelname, warning.event) == ("WARNING", "gateway.reply_skipped")
    assert (warning.fields["endpoint"], warning.fields["skipped"]) == ("Books.List", 1)
