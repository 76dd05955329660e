"""`POST /publish/{topic}` and `GET /subscribe/{topic}` (server-sent events) against a real node: through
the gateway the node serves itself (`--gateway`, the in-process backend) and through a gateway beside it
(`LocalApiBackend`). Requests carry the mesh admin's token (`topic:*` is no one else's by default)."""

from __future__ import annotations

import asyncio
import base64
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
from micro.sdk import pubsub

from raw_http import request, send

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))

from node_harness import PATIENCE, Cluster, NodeProcess, admin_token, until

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


@pytest.fixture(scope="module")
def bearer(node: tuple[NodeProcess, str]) -> dict[str, str]:
    """The Authorization header of the mesh admin's token."""
    return {"Authorization": f"Bearer {admin_token(node[0])}"}


@pytest_asyncio.fixture
async def http(bearer: dict[str, str]) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20), headers=bearer) as session:
        yield session


@pytest.mark.parametrize("where", ["in-process", "beside"])
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_publish_or_subscription_without_a_token_is_401(
    where: str, method: str, node: tuple[NodeProcess, str], beside: str, topic: str
) -> None:
    base = node[1] if where == "in-process" else beside
    path = "publish" if method == "POST" else "subscribe"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session, \
            session.request(method, f"{base}/{path}/{topic}", json={"n": 1}) as reply:
        error = await reply.json()

    assert (reply.status, error["status"]) == (401, "UNAUTHENTICATED")


@pytest.fixture
def topic() -> str:
    return f"gw.t{next(_topics)}"


async def _event(response: aiohttp.ClientResponse) -> Any:
    """The next event's data (heartbeats skipped), as JSON."""
    async with asyncio.timeout(PATIENCE):
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
        async with asyncio.timeout(PATIENCE):
            assert await events.content.readline() == b": heartbeat\n"
    await until(lambda: _subscriptions(node[0]) == before, PATIENCE,
                "the node to drop the client's subscription")


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


@pytest.mark.parametrize("where", ["in-process", "beside"])
async def test_another_method_on_publish_is_405_allowing_post(
    where: str, node: tuple[NodeProcess, str], beside: str, http: aiohttp.ClientSession, topic: str
) -> None:
    base = node[1] if where == "in-process" else beside
    async with http.get(f"{base}/publish/{topic}") as reply:
        error = await reply.json()

    assert (reply.status, reply.headers["Allow"]) == (405, "POST")
    assert (error["code"], error["status"], error["id"]) == (405, "Method Not Allowed", "go.micro.gateway")


async def test_a_body_nested_too_deeply_is_400(node: tuple[NodeProcess, str], http: aiohttp.ClientSession,
                                               topic: str) -> None:
    async with http.post(f"{node[1]}/publish/{topic}", data=b"[" * 100_000) as reply:
        error = await reply.json()

    assert (reply.status, error["status"]) == (400, "INVALID_ARGUMENT")
    assert "nested too deeply" in error["detail"]


@pytest.mark.parametrize("where", ["in-process", "beside"])
async def test_a_payload_that_is_no_json_a_client_reads_back_comes_as_data_base64_and_the_stream_goes_on(
    where: str, node: tuple[NodeProcess, str], beside: str, http: aiohttp.ClientSession, topic: str
) -> None:
    base = node[1] if where == "in-process" else beside
    hostile = [b"[" * 100_000 + b"]" * 100_000, b"1e999999", b"[1, NaN]"]
    async with http.get(f"{base}/subscribe/{topic}") as events, pubsub.Pubsub(node[0].data_dir) as bus:
        for payload in [*hostile, b'{"n": 1}']:
            assert await bus.publish(topic, payload) == 1
        shown = [await _event(events) for _ in range(4)]

    assert [base64.b64decode(message["data_base64"]) for message in shown[:3]] == hostile
    assert all("data" not in message and message["topic"] == topic for message in shown[:3])
    assert shown[3]["data"] == {"n": 1}


async def test_refused_requests_leave_no_traceback_in_the_nodes_log(
    node: tuple[NodeProcess, str], bearer: dict[str, str], topic: str
) -> None:
    host, port = node[1].removeprefix("http://").split(":")
    answers = [
        await send(host, int(port), raw) for raw in (
            request(f"POST /publish/{topic} HTTP/1.1", bearer, b"[" * 100_000),
            request("BREW / HTTP/1.1"),
            request("GET / HTTP/1.1", {"X-Big": "a" * 100_000}),
            request(f"POST /publish/{topic} HTTP/1.1", {**bearer, "Content-Encoding": "gzip"}, b"not gzip"),
        )
    ]

    assert "Traceback" not in node[0].stderr_path.read_text()
    assert [answer.status for answer in answers] == [400, 501, 431, 400]
    assert all(set(answer.json()) == {"id", "code", "detail", "status"} for answer in answers)
