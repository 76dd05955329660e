"""The gateway's own pages (version, registry, OpenAPI)."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from openapi_spec_validator import validate

pytestmark = pytest.mark.asyncio


async def test_the_root_answers_the_version(client: TestClient) -> None:
    response = await client.get("/")
    assert await response.json() == {"version": "9.9.9"}


async def test_services_lists_each_service_with_versions_endpoints_and_instances(client: TestClient) -> None:
    services = {
        service["name"]: service for service in (await (await client.get("/services")).json())["services"]
    }
    assert set(services) == {"helloworld", "library"}
    library = services["library"]
    assert library["versions"] == ["2.0.0"]
    assert [e["name"] for e in library["endpoints"]] == ["Books.Add", "Books.List"]
    assert library["endpoints"][1] == {
        "name": "Books.List",
        "path": "/library/Books/List",
        "codec": "proto",
        "server_streaming": True,
    }
    assert [i["id"] for i in library["instances"]] == ["library-1"]


async def test_the_openapi_document_is_valid_openapi_3_1(client: TestClient) -> None:
    document = await (await client.get("/openapi.json")).json()
    validate(document)
    assert document["openapi"] == "3.1.0"


async def test_the_openapi_document_has_a_post_operation_per_endpoint(client: TestClient) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert sorted(document["paths"]) == [
        "/helloworld/Helloworld/Call",
        "/helloworld/Helloworld/Count",
        "/helloworld/Helloworld/Crash",
        "/helloworld/Helloworld/Echo",
        "/helloworld/Helloworld/Refuse",
        "/helloworld/Helloworld/Slow",
        "/library/Books/Add",
        "/library/Books/List",
    ]
    assert all(list(operations) == ["post"] for operations in document["paths"].values())


async def test_the_openapi_document_describes_proto_messages_from_the_descriptors(client: TestClient) -> None:
    document = await (await client.get("/openapi.json")).json()
    book = document["components"]["schemas"]["test.library.Book"]["properties"]
    assert book["isbn"] == {"type": ["string", "integer"], "format": "int64"}
    assert book["kind"] == {"type": "string", "enum": ["KIND_UNSPECIFIED", "NOVEL", "ESSAY"]}
    assert book["author"] == {"$ref": "#/components/schemas/test.library.Author"}
    assert book["tags"] == {"type": "array", "items": {"type": "string"}}
    assert book["attrs"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert book["published"] == {"$ref": "#/components/schemas/google.protobuf.Timestamp"}


async def test_a_json_schemas_local_references_point_into_its_component(client: TestClient) -> None:
    document = await (await client.get("/openapi.json")).json()
    echo = document["components"]["schemas"]["helloworld.Helloworld.Echo.Request"]
    assert echo["properties"]["where"] == {
        "$ref": "#/components/schemas/helloworld.Helloworld.Echo.Request/$defs/place"
    }


async def test_every_error_response_is_the_micro_error_body(client: TestClient) -> None:
    document = await (await client.get("/openapi.json")).json()
    errors = {
        op["post"]["responses"]["default"]["content"]["application/json"]["schema"]["$ref"]
        for op in document["paths"].values()
    }
    assert errors == {"#/components/schemas/MicroError"}
