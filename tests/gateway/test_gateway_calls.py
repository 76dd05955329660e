"""Calls through the gateway reach real gRPC services and come back as JSON."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

pytestmark = pytest.mark.asyncio


async def test_helloworld_answers_hello_with_the_name(client: TestClient) -> None:
    response = await client.post("/helloworld/call", json={"name": "a"})
    assert response.status == 200
    assert await response.json() == {"msg": "Hello a"}


@pytest.mark.parametrize(
    "path", ["/helloworld", "/helloworld/Helloworld/Call", "/helloworld/Helloworld.Call"]
)
async def test_every_spelling_of_an_endpoint_reaches_it(client: TestClient, path: str) -> None:
    response = await client.post(path, json={"name": "b"})
    assert await response.json() == {"msg": "Hello b"}


async def test_an_endpoint_name_matches_regardless_of_case(client: TestClient) -> None:
    response = await client.post("/helloworld/helloworld/CALL", json={"name": "c"})
    assert await response.json() == {"msg": "Hello c"}


async def test_query_parameters_become_the_request_typed_by_its_schema(client: TestClient) -> None:
    response = await client.get(
        "/helloworld/echo",
        params=[
            ("name", "q"),
            ("count", "3"),
            ("ratio", "0.5"),
            ("loud", "true"),
            ("tags", "a"),
            ("tags", "b"),
        ],
    )
    request = (await response.json())["request"]
    assert request == {"name": "q", "count": 3, "ratio": 0.5, "loud": True, "tags": ["a", "b"]}


async def test_a_post_without_a_body_takes_the_query_parameters(client: TestClient) -> None:
    response = await client.post("/helloworld/call?name=d")
    assert await response.json() == {"msg": "Hello d"}


async def test_a_form_body_becomes_the_request(client: TestClient) -> None:
    response = await client.post("/helloworld/echo", data={"name": "f", "count": "7"})
    assert (await response.json())["request"] == {"name": "f", "count": 7}


async def test_a_json_body_sent_as_a_form_like_curl_d_does_is_read_as_json(client: TestClient) -> None:
    response = await client.post("/helloworld/call", data=b'{"name": "c"}',
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert await response.json() == {"msg": "Hello c"}


async def test_micro_headers_reach_the_service_as_metadata(client: TestClient) -> None:
    response = await client.post("/helloworld/echo", json={}, headers={"Micro-Tenant": "t1", "X-Other": "no"})
    assert (await response.json())["metadata"] == {"micro-tenant": "t1"}


async def test_account_headers_of_the_client_do_not_reach_the_service(client: TestClient) -> None:
    forged = {"Micro-Account-Id": "Aforged", "Micro-Account-Name": "admin", "Micro-Account-Scopes": "admin"}
    response = await client.post("/helloworld/echo", json={}, headers={**forged, "Micro-Tenant": "t1"})
    assert (await response.json())["metadata"] == {"micro-tenant": "t1"}


async def test_a_protobuf_endpoint_takes_and_gives_json_by_the_descriptors(client: TestClient) -> None:
    book = {
        "title": "Dune",
        "pages": 412,
        "isbn": "9780441013593",
        "price": 9.5,
        "tags": ["sf"],
        "kind": "NOVEL",
        "author": {"name": "Herbert"},
        "attrs": {"cover": "soft"},
        "published": "1965-08-01T00:00:00Z",
    }
    response = await client.post("/library/books/add", json=book)
    assert response.status == 200
    assert await response.json() == {**book, "available": True}


async def test_a_protobuf_reply_shows_fields_left_at_their_defaults(client: TestClient) -> None:
    response = await client.post("/library/Books/Add", json={"title": "Empty"})
    reply = await response.json()
    assert (reply["pages"], reply["tags"], reply["kind"]) == (0, [], "KIND_UNSPECIFIED")


async def test_query_parameters_fill_a_protobuf_request(client: TestClient) -> None:
    response = await client.get(
        "/library/books/add", params=[("title", "Q"), ("pages", "12"), ("available", "false")]
    )
    reply = await response.json()
    assert (reply["title"], reply["pages"], reply["available"]) == ("Q", 12, True)
