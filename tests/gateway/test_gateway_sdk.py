"""A service written with the SDK, served through the gateway: the SDK's JSON endpoints, its request
schemas and its errors meet the gateway's routes, checks and status mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TypedDict

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, create_app
from micro.node.proto import node_pb2
from micro.sdk import Service, errors

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


@pytest_asyncio.fixture
async def sdk_client() -> AsyncIterator[TestClient]:
    service = Service("helloworld", version="1.0.0")
    service.handle(Helloworld())
    await service.start()
    instance = node_pb2.ServiceInstance(
        id="sdk-1",
        service="helloworld",
        version="1.0.0",
        address=service.address,
        endpoints=service.endpoints,
    )
    backend = DirectBackend([(instance, b"")])
    async with TestClient(TestServer(create_app(backend))) as http:
        yield http
    await backend.close()
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
