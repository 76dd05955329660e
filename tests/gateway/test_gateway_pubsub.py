"""`POST /publish/{topic}` and `GET /subscribe/{topic}` (server-sent events) against a real node: through
the gateway the node serves itself (`--gateway`, the in-process backend) and through a gateway beside it
(`LocalApiBackend`)."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from micro.gateway import LocalApiBackend, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))

from node_harness import Cluster, NodeProcess

pytestmark = pytest.mark.asyncio

_topics = itertools.count()


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[NodeProcess, str]]:
    """A node serving the gateway in-process, and the gateway's base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with Cluster.temporary("mgp-") as cluster:
        node = cluster.add_unstarted()
        node.start("--gateway", f"127.0.0.1:{port}")
        yield node, f"http://127.0.0.1:{port}"


@pytest_asyncio.fixture
async def beside(node: tuple[NodeProcess, str]) -> AsyncIterator[str]:
    """A gateway beside the node (over its local API) with a 0.2 s heartbeat: its base URL."""
    backend = LocalApiBackend(node[0].data_dir)
    runner = await serve(backend, "127.0.0.1", 0, heartbeat=0.2)
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()
    await backend.close()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest.fixture
def topic() -> str:
    return f"gw.t{next(_topics)}"


async def _event(response: aiohttp.ClientResponse) -> Any:
    """The next event's data (heartbeats skipped), as JSON."""
    async with asyncio.timeout(10):
        while True:
            line = (await response.content.readline()).decode()
            if line.startswith("data: "):
                return json.loads(line[len("data: "):])


def _subscriptions(node: NodeProcess) -> int:
    return sum(v for k, v in node.status()["counters"].items() if k.endswith("pubsub.subscriptions"))


@pytest.mark.parametrize("where", ["in-process", "beside"])
async def test_a_publish_reaches_an_event_stream_subscriber(
    where: str, node: tuple[NodeProcess, str], beside: str, http: aiohttp.ClientSession, topic: str
) -> None:
    base = node[1] if where == "in-process" else beside
    async with http.get(f"{base}/subscribe/gw.>") as events:
        assert events.headers["Content-Type"] == "text/event-stream"
        async with http.post(f"{base}/publish/{topic}", json={"n": 1}, headers={"Micro-Header-Trace": "abc"}) as reply:
            assert (reply.status, await reply.json()) == (200, {"nodes": 1})
        message = await _event(events)

    assert message["data"] == {"n": 1}
    assert message["topic"] == topic
    assert message["headers"] == {"trace": "abc"}
    assert message["publisher"] == node[0].status()["id"]
    assert message["published_at"] == pytest.approx(time.time(), abs=60)


async def test_streams_in_a_group_share_the_messages(
    node: tuple[NodeProcess, str], http: aiohttp.ClientSession, topic: str
) -> None:
    base = node[1]
    async with (http.get(f"{base}/subscribe/{topic}?group=g") as first,
                http.get(f"{base}/subscribe/{topic}?group=g") as second):
        for n in (1, 2):
            async with http.post(f"{base}/publish/{topic}", json=n) as reply:
                assert reply.status == 200
        got = [(await _event(first))["data"], (await _event(second))["data"]]

    assert sorted(got) == [1, 2]  # plain subscribers would each get both, 1 first


async def test_an_idle_stream_gets_heartbeats_and_a_client_that_leaves_is_unsubscribed(
    node: tuple[NodeProcess, str], beside: str, http: aiohttp.ClientSession, topic: str
) -> None:
    before = _subscriptions(node[0])
    async with http.get(f"{beside}/subscribe/{topic}") as events:
        assert _subscriptions(node[0]) == before + 1
        async with asyncio.timeout(5):
            assert await events.content.readline() == b": heartbeat\n"
    deadline = time.monotonic() + 5
    while _subscriptions(node[0]) != before:
        assert time.monotonic() < deadline, "the subscription outlived its client"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(("method", "path", "body", "detail"), [
    ("POST", "/publish/gw..x", {}, "empty token"),
    ("POST", "/publish/gw.*", {}, "wildcards are for subscriptions"),
    ("GET", "/subscribe/gw.>.x", None, "'>' must be the last token"),
])
async def test_a_bad_topic_is_400_with_the_error_body(
    method: str, path: str, body: Any, detail: str, node: tuple[NodeProcess, str], http: aiohttp.ClientSession
) -> None:
    async with http.request(method, node[1] + path, json=body) as reply:
        error = await reply.json()

    assert reply.status == 400
    assert error["status"] == "INVALID_ARGUMENT" and error["code"] == 400
    assert detail in error["detail"]


async def test_a_body_that_is_not_json_is_400(node: tuple[NodeProcess, str], http: aiohttp.ClientSession,
                                              topic: str) -> None:
    async with http.post(f"{node[1]}/publish/{topic}", data=b"{nope") as reply:
        assert reply.status == 400
        assert "malformed JSON" in (await reply.json())["detail"]


async def test_a_body_over_one_mib_is_413(node: tuple[NodeProcess, str], http: aiohttp.ClientSession,
                                          topic: str) -> None:
    async with http.post(f"{node[1]}/publish/{topic}", json="x" * (1 << 20)) as reply:
        assert reply.status == 413
        assert (await reply.json())["code"] == 413
