"""Whatever fails, the client gets Micro's error body and the HTTP status of its gRPC status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.asyncio


async def _error(response: ClientResponse) -> dict[str, Any]:
    """The error body, checked to be Micro's four fields with the response's status as its code."""
    body = await response.json()
    assert set(body) == {"id", "code", "detail", "status"}
    assert body["code"] == response.status
    return body


async def test_malformed_json_is_400(client: TestClient) -> None:
    response = await client.post(
        "/helloworld/call", data=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert "malformed JSON" in (await _error(response))["detail"]


async def test_a_field_of_the_wrong_type_is_400_naming_the_field(client: TestClient) -> None:
    response = await client.post("/helloworld/echo", json={"tags": ["a", 5]})
    body = await _error(response)
    assert (response.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert "tags[1]" in body["detail"]


async def test_a_nested_field_of_the_wrong_type_is_named_by_its_path(client: TestClient) -> None:
    response = await client.post("/helloworld/echo", json={"where": {"city": 3}})
    assert "where.city" in (await _error(response))["detail"]


async def test_a_missing_required_field_is_400_naming_it(client: TestClient) -> None:
    response = await client.post("/helloworld/call", json={})
    assert response.status == 400
    assert "'name'" in (await _error(response))["detail"]


async def test_a_protobuf_field_of_the_wrong_type_is_400_naming_the_field(client: TestClient) -> None:
    response = await client.post("/library/books/add", json={"title": "T", "pages": "many"})
    assert response.status == 400
    assert "pages" in (await _error(response))["detail"]


async def test_an_unknown_protobuf_field_is_400_naming_it(client: TestClient) -> None:
    response = await client.post("/library/books/add", json={"colour": "red"})
    assert response.status == 400
    assert "colour" in (await _error(response))["detail"]


async def test_a_request_that_is_not_an_object_is_400(client: TestClient) -> None:
    response = await client.post("/library/books/add", json=[1, 2])
    assert response.status == 400


async def test_an_unknown_service_is_404(client: TestClient) -> None:
    response = await client.post("/nobody/call", json={})
    assert (response.status, (await _error(response))["status"]) == (404, "NOT_FOUND")


async def test_an_unknown_endpoint_is_404_listing_the_known_ones(client: TestClient) -> None:
    response = await client.post("/helloworld/nothing", json={})
    assert response.status == 404
    assert "Helloworld.Call" in (await _error(response))["detail"]


async def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    response = await client.post("/helloworld/call", json={"name": "x" * 5000})
    assert response.status == 413
    assert (await _error(response))["id"] == "go.micro.gateway"


async def test_a_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await client.post(
        "/helloworld/call", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status == 413


async def test_a_handler_past_the_deadline_is_504(client: TestClient) -> None:
    response = await client.post("/helloworld/slow", json={"seconds": 5}, headers={"Timeout": "0.2"})
    body = await _error(response)
    assert (response.status, body["status"]) == (504, "DEADLINE_EXCEEDED")


async def test_a_timeout_header_that_is_not_a_positive_number_is_400(client: TestClient) -> None:
    response = await client.post("/helloworld/call", json={"name": "a"}, headers={"Micro-Timeout": "soon"})
    assert response.status == 400


async def test_a_handler_that_raises_is_500_with_the_error_body(client: TestClient) -> None:
    response = await client.post("/helloworld/crash", json={})
    body = await _error(response)
    assert (response.status, body["id"]) == (500, "helloworld")
    assert "the handler broke" in body["detail"]


async def test_a_failed_request_does_not_break_the_next(client: TestClient) -> None:
    await client.post("/helloworld/crash", json={})
    await client.post("/helloworld/slow", json={"seconds": 5}, headers={"Timeout": "0.1"})
    response = await client.post("/helloworld/call", json={"name": "after"})
    assert await response.json() == {"msg": "Hello after"}


@pytest.mark.parametrize(
    ("status", "http"),
    [
        ("INVALID_ARGUMENT", 400),
        ("UNAUTHENTICATED", 401),
        ("PERMISSION_DENIED", 403),
        ("NOT_FOUND", 404),
        ("ALREADY_EXISTS", 409),
        ("FAILED_PRECONDITION", 412),
        ("RESOURCE_EXHAUSTED", 429),
        ("UNIMPLEMENTED", 501),
        ("UNAVAILABLE", 503),
        ("DEADLINE_EXCEEDED", 504),
        ("INTERNAL", 500),
        ("DATA_LOSS", 500),
    ],
)
async def test_a_service_error_gets_the_http_status_of_its_grpc_status(
    client: TestClient, status: str, http: int
) -> None:
    response = await client.post("/helloworld/refuse", json={"status": status})
    body = await _error(response)
    assert response.status == http
    assert (body["id"], body["status"], body["detail"]) == ("helloworld", status, f"refused: {status}")


async def test_a_method_other_than_get_or_post_is_405(client: TestClient) -> None:
    response = await client.put("/helloworld/call", json={"name": "a"})
    assert (response.status, (await _error(response))["status"]) == (405, "Method Not Allowed")


async def test_a_request_to_a_schemaless_json_endpoint_must_be_an_object(client: TestClient) -> None:
    response = await client.post("/helloworld/slow", json=[1])
    assert (response.status, (await _error(response))["status"]) == (400, "INVALID_ARGUMENT")
