"""Cross-origin reads (`gateway.cors`): no page of another origin may read an answer unless its origin is
configured, and then only its own; preflights likewise. Against the gateway over the test services
(`DirectBackend`), and `micro node start --cors-origin`'s refusals; the node serving it is in
test_gateway_auth.py."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, create_app
from micro.gateway.cors import origin

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "node"))

from node_harness import micro, one_line_error

pytestmark = pytest.mark.asyncio

APP = "https://app.test"
OTHER = "https://evil.test"
_CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                 "Access-Control-Allow-Credentials")


@pytest_asyncio.fixture
async def allowing(backend: DirectBackend) -> AsyncIterator[TestClient]:
    """The gateway with one configured origin, `APP`."""
    async with TestClient(TestServer(create_app(backend, timeout=5.0, cors_origins=[APP]))) as http:
        yield http


def _cors(response: ClientResponse) -> dict[str, str]:
    return {name: response.headers[name] for name in _CORS_HEADERS if name in response.headers}


async def test_by_default_no_answer_names_an_origin(client: TestClient) -> None:
    ok = await client.post("/helloworld/call", json={"name": "a"}, headers={"Origin": APP})
    failed = await client.post("/nobody", json={}, headers={"Origin": APP})

    assert (ok.status, failed.status) == (200, 404)
    assert _cors(ok) == _cors(failed) == {}


async def test_by_default_a_preflight_allows_nothing(client: TestClient) -> None:
    response = await client.options("/helloworld/call", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})

    assert response.status == 204
    assert _cors(response) == {}


async def test_a_configured_origin_is_named_on_its_answers_and_varies_them(allowing: TestClient) -> None:
    response = await allowing.post("/helloworld/call", json={"name": "a"}, headers={"Origin": APP})

    assert response.status == 200
    assert _cors(response) == {"Access-Control-Allow-Origin": APP}
    assert "Origin" in response.headers.getall("Vary")


async def test_a_configured_origin_is_named_on_errors_and_event_streams_too(allowing: TestClient) -> None:
    failed = await allowing.post("/nobody", json={}, headers={"Origin": APP})
    events = await allowing.post("/helloworld/count", json={"count": 1}, headers={"Origin": APP})

    assert (failed.status, events.headers["Content-Type"]) == (404, "text/event-stream")
    assert failed.headers["Access-Control-Allow-Origin"] == events.headers["Access-Control-Allow-Origin"] == APP


async def test_another_origin_is_not_named_when_some_are_configured(allowing: TestClient) -> None:
    response = await allowing.post("/helloworld/call", json={"name": "a"}, headers={"Origin": OTHER})

    assert response.status == 200
    assert _cors(response) == {}
    assert "Vary" not in response.headers


async def test_a_preflight_from_a_configured_origin_allows_posts_with_authorization(allowing: TestClient) -> None:
    response = await allowing.options("/helloworld/call", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})

    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers  # no cookie ever authorises


async def test_a_preflight_from_another_origin_allows_nothing(allowing: TestClient) -> None:
    response = await allowing.options("/helloworld/call", headers={
        "Origin": OTHER, "Access-Control-Request-Method": "POST"})

    assert response.status == 204
    assert _cors(response) == {}


@pytest.mark.parametrize(("given", "sent"), [
    ("https://app.test", "https://app.test"),
    ("HTTPS://App.Test/", "https://app.test"),
    ("http://localhost:3000", "http://localhost:3000"),
    ("https://app.test:443", "https://app.test"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
async def test_an_origin_is_configured_as_browsers_send_it(given: str, sent: str) -> None:
    assert origin(given) == sent


@pytest.mark.parametrize("given", ["*", "null", "app.test", "https://app.test/page", "ftp://app.test",
                                   "https://user@app.test", "https://app.test?x=1", "https://", "https://a:99999"])
async def test_what_is_not_an_origin_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        origin(given)


async def test_create_app_refuses_a_wildcard_origin(backend: DirectBackend) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        create_app(backend, cors_origins=["*"])


@pytest.mark.parametrize(("args", "said"), [
    (["--gateway", "127.0.0.1:0", "--cors-origin", "*"], "is not an origin"),
    (["--cors-origin", APP], "give --gateway"),
], ids=["wildcard", "no-gateway"])
async def test_node_start_refuses_a_cors_origin_it_cannot_serve_before_making_anything(
        tmp_path: Path, args: list[str], said: str) -> None:
    result = micro("node", "start", *args, data_dir=tmp_path / "node")

    one_line_error(result, said)
    assert not (tmp_path / "node").exists()
