"""Whatever fails, the client gets Micro's error body and the HTTP status of its gRPC status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, create_app
from micro.node.api.proto import node_pb2

from gateway_services import FAR_FUTURE

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


# Bodies that are not JSON every service reads back the same: 400 at every route that takes a body.

_CALL_PATHS = ["/helloworld/echo", "/helloworld/Helloworld/Echo", "/library/books/add"]


async def _post_raw(client: TestClient, path: str, body: bytes) -> ClientResponse:
    return await client.post(path, data=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", _CALL_PATHS)
async def test_a_body_nested_past_the_parsers_depth_is_400(big_client: TestClient, path: str) -> None:
    response = await _post_raw(big_client, path, b"[" * 100_000)
    body = await _error(response)
    assert (response.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert "nested too deeply" in body["detail"]


@pytest.mark.parametrize(("path", "field"), [("/helloworld/echo", "ratio"), ("/library/books/add", "price")])
async def test_a_number_out_of_the_range_of_a_double_is_400(
    client: TestClient, path: str, field: str
) -> None:
    response = await _post_raw(client, path, b'{"%s": 1e999999}' % field.encode())
    body = await _error(response)
    assert (response.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert "out of range" in body["detail"]


async def test_an_integer_past_the_digit_limit_is_400_saying_so(big_client: TestClient) -> None:
    response = await _post_raw(big_client, "/helloworld/echo", b'{"count": 123' + b"0" * 10**6 + b"}")
    body = await _error(response)
    assert response.status == 400
    assert "too long" in body["detail"] and "set_int_max_str_digits" not in body["detail"]


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
async def test_nan_and_infinity_are_400(client: TestClient, constant: bytes) -> None:
    response = await _post_raw(client, "/helloworld/echo", b'{"ratio": %s}' % constant)
    assert ((await _error(response))["status"], response.status) == ("INVALID_ARGUMENT", 400)


async def test_a_name_twice_in_an_object_is_400(client: TestClient) -> None:
    # The schema would check the last value while a service's parser might keep the first.
    response = await _post_raw(client, "/helloworld/call", b'{"name": 5, "name": "a"}')
    body = await _error(response)
    assert response.status == 400
    assert "'name' appears twice" in body["detail"]


async def test_a_request_deeper_than_its_recursive_schema_validates_is_400(client: TestClient) -> None:
    place: dict[str, object] = {}
    request = {"where": place}
    for _ in range(300):  # a place near a place near a place...
        place["near"] = {}
        place = place["near"]  # type: ignore[assignment]
    response = await client.post("/helloworld/echo", json=request)
    body = await _error(response)
    assert (response.status, body["detail"]) == (400, "invalid request: nested too deeply")


async def test_a_body_in_utf16_is_400(client: TestClient) -> None:
    response = await _post_raw(client, "/helloworld/call", '{"name": "a"}'.encode("utf-16"))
    assert ((await _error(response))["status"], response.status) == ("INVALID_ARGUMENT", 400)


async def test_an_integer_too_large_for_a_double_field_is_400(client: TestClient) -> None:
    response = await _post_raw(client, "/library/books/add", b'{"price": 1' + b"0" * 400 + b"}")
    body = await _error(response)
    assert (response.status, body["id"]) == (400, "go.micro.gateway")
    assert "too large" in body["detail"]


async def test_a_query_parameter_nested_too_deeply_is_400_naming_it(client: TestClient) -> None:
    response = await client.get("/helloworld/echo", params={"where": "[" * 2000})
    body = await _error(response)
    assert response.status == 400
    assert body["detail"].startswith("invalid field where")


async def test_a_query_number_out_of_range_is_400(client: TestClient) -> None:
    response = await client.get("/helloworld/echo", params={"ratio": "1e999"})
    body = await _error(response)
    assert response.status == 400
    assert body["detail"].startswith("invalid field ratio")


async def test_a_body_that_does_not_decode_by_its_content_encoding_is_400(client: TestClient) -> None:
    response = await client.post(
        "/helloworld/call",
        data=b"not gzip at all",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    body = await _error(response)
    assert (response.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert "Content-Encoding" in body["detail"]


async def test_a_protobuf_reply_with_no_json_form_is_500_naming_the_service(client: TestClient) -> None:
    response = await client.post("/library/books/add", json={"title": FAR_FUTURE})
    body = await _error(response)
    assert (response.status, body["id"], body["status"]) == (500, "library", "INTERNAL")
    assert "Timestamp" in body["detail"]


async def test_a_405_names_the_methods_the_path_takes(client: TestClient) -> None:
    response = await client.patch("/helloworld/call", json={"name": "a"})
    assert (response.status, (await _error(response))["code"]) == (405, 405)
    assert response.headers["Allow"] == "GET, POST"


class _BrokenListing(DirectBackend):
    """A backend whose registry listing fails in a way the gateway has no error for."""

    async def services(self) -> list[node_pb2.ServiceInstance]:
        raise RuntimeError("the listing broke")


async def test_a_failure_the_gateway_did_not_expect_is_500_logged_as_one_record_without_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with TestClient(TestServer(create_app(_BrokenListing()))) as http:
        response = await http.get("/services")
        body = await _error(response)

    assert (response.status, body["status"]) == (500, "INTERNAL")
    [record] = [r for r in caplog.records if r.name == "micro.gateway"]
    assert (record.levelname, record.event, record.exc_info) == ("ERROR", "gateway.failed", None)
    assert record.fields["error"] == "RuntimeError: the listing broke"
    assert any("services" in frame for frame in record.fields["frames"])
    assert "\n" not in record.getMessage()
