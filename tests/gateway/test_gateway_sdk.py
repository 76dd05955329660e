"""Services written with the SDK, served through the gateway: the SDK's JSON endpoints, request schemas,
errors, protobuf servicers and descriptor sets meet the gateway's routes, checks, transcoding and status
mapping."""

from __future__ import annotations

import json
import tempfile
from collections.abc import AsyncIterator
from typing import TypedDict

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, create_app
from micro.node.api.proto import node_pb2
from micro.sdk import Service, errors
from micro.sdk.protobuf import descriptor_set

import library_pb2

pytestmark = pytest.mark.asyncio


class Hello(TypedDict):
    name: str


class Helloworld:
    async def call(self, request: Hello) -> dict[str, str]:
        return {"msg": f"Hello {request['name']}"}

    async def find(self, request: dict[str, str]) -> dict[str, str]:
        raise errors.not_found("helloworld", f"nobody called {request.get('name')}")

    async def crash(self, request: dict[str, str]) -> dict[str, str]:
        raise RuntimeError("the handler broke")


BOOKS = library_pb2.DESCRIPTOR.services_by_name["Books"]


class Books:
    async def Add(self, book: library_pb2.Book, context: object) -> library_pb2.Book:
        return library_pb2.Book(title=book.title.upper(), pages=book.pages, available=True)

    async def List(
        self, request: library_pb2.ListRequest, context: object
    ) -> AsyncIterator[library_pb2.Book]:
        for n in range(request.count):
            yield library_pb2.Book(title=f"{request.tag} {n}")


@pytest_asyncio.fixture(params=[False, True], ids=["unary-calls", "call-link"])
async def sdk_client(request: pytest.FixtureRequest) -> AsyncIterator[TestClient]:
    """The gateway over SDK instances, called by unary calls or (as their records say they serve one) over
    their call links: every test holds both ways. The instances serve on their unix sockets in a data dir
    of the test's own (a short path: a socket's path is at most 107 bytes)."""
    with tempfile.TemporaryDirectory(prefix="gs-") as data_dir:
        helloworld = Service("helloworld", version="1.0.0", data_dir=data_dir)
        library = Service("library", version="1.0.0", data_dir=data_dir)
        helloworld.handle(Helloworld())
        library.add_servicer(BOOKS, Books())
        backend = DirectBackend()
        for service, descriptors in ((helloworld, b""), (library, descriptor_set([BOOKS]))):
            await service.start()
            instance = node_pb2.ServiceInstance(
                id=f"{service.name}-1",
                service=service.name,
                version=service.version,
                address=service.address,
                endpoints=service.endpoints,
                call_link=request.param,
            )
            backend.add(instance, descriptors)
        async with TestClient(TestServer(create_app(backend))) as http:
            yield http
        await backend.close()
        for service in (helloworld, library):
            await service.stop(0)


async def test_curl_to_the_gateway_says_hello(sdk_client: TestClient) -> None:
    response = await sdk_client.post("/helloworld/call", data=b'{"name":"a"}')
    assert await response.json() == {"msg": "Hello a"}


async def test_a_field_of_the_wrong_type_is_400_naming_it_by_the_sdks_schema(sdk_client: TestClient) -> None:
    response = await sdk_client.post("/helloworld/call", json={"name": 7})
    body = await response.json()
    assert (response.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert "name" in body["detail"]


async def test_an_sdk_error_keeps_its_id_and_detail(sdk_client: TestClient) -> None:
    response = await sdk_client.post("/helloworld/find", json={"name": "x"})
    assert (response.status, await response.json()) == (
        404,
        {"id": "helloworld", "code": 404, "detail": "nobody called x", "status": "NOT_FOUND"},
    )


async def test_a_raising_sdk_handler_is_500_and_the_service_keeps_serving(sdk_client: TestClient) -> None:
    failed = await sdk_client.post("/helloworld/crash", json={})
    body = await failed.json()
    assert (failed.status, body["id"], body["detail"]) == (500, "helloworld", "the handler broke")
    again = await sdk_client.post("/helloworld/call", json={"name": "b"})
    assert await again.json() == {"msg": "Hello b"}


async def test_an_sdk_protobuf_servicer_takes_and_gives_json(sdk_client: TestClient) -> None:
    response = await sdk_client.post("/library/books/add", json={"title": "dune", "pages": 412})
    reply = await response.json()
    assert (reply["title"], reply["pages"], reply["available"]) == ("DUNE", 412, True)


async def test_an_sdk_protobuf_field_of_the_wrong_type_is_400_naming_it(sdk_client: TestClient) -> None:
    response = await sdk_client.post("/library/books/add", json={"pages": [1]})
    assert response.status == 400
    assert "pages" in (await response.json())["detail"]


async def test_an_sdk_streaming_servicer_sends_events(sdk_client: TestClient) -> None:
    response = await sdk_client.get("/library/books/list", params={"count": "2", "tag": "sf"})
    titles = [
        json.loads(line.removeprefix("data: "))["title"]
        for line in (await response.text()).split("\n")
        if line
    ]
    assert titles == ["sf 0", "sf 1"]
