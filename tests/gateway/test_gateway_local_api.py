"""`LocalApiBackend` speaks the node's local API on DATA_DIR/node.sock.

A stand-in answers on a real unix socket: a `NodeServicer` that relays Services, Describe, CallLink
(calls multiplexed on one stream, `node/calllink.py`) and CallStream to a `DirectBackend` and fails the
way the node does (the gRPC status, with Micro's error body as details). Its Authorize lets every
credential through and keeps what it was asked (the node's own answers are in test_gateway_auth.py).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn

import grpc
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, LocalApiBackend, create_app
from micro.node.api.calllink import batched, serve_link
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.sdk.errors import MicroError

pytestmark = pytest.mark.asyncio


async def _fail(context: grpc.aio.ServicerContext, error: MicroError) -> NoReturn:
    """End the call as the node does: the error's status, its Micro body as the details."""
    await context.abort(error.grpc_status, error.to_json())
    raise AssertionError("abort returns only by raising")


def _status(exc: Exception) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """A linked call's status, as `_fail` ends a call."""
    if isinstance(exc, MicroError):
        return exc.grpc_status, exc.to_json(), ()
    return grpc.StatusCode.INTERNAL, str(exc), ()


class _StandInNode(node_pb2_grpc.NodeServicer):
    def __init__(self, backend: DirectBackend) -> None:
        self._backend = backend
        self.asked: list[node_pb2.AuthorizeRequest] = []

    async def Authorize(self, request: node_pb2.AuthorizeRequest, context: grpc.aio.ServicerContext) -> object:
        self.asked.append(request)
        return node_pb2.AuthorizeReply()

    async def Services(self, request: node_pb2.ServicesRequest, context: grpc.aio.ServicerContext) -> object:
        return node_pb2.ServicesReply(instances=await self._backend.services())

    async def Describe(self, request: node_pb2.DescribeRequest, context: grpc.aio.ServicerContext) -> object:
        try:
            return await self._backend.describe(request.service)
        except MicroError as error:
            await _fail(context, error)

    async def CallLink(self, frames: AsyncIterator[node_pb2.LinkBatch], context: grpc.aio.ServicerContext) -> None:
        async def call(payload: bytes, time_left: float | None) -> bytes:
            request = node_pb2.CallRequest.FromString(payload)
            reply = await self._backend.call(request, request.timeout_s)
            return reply.SerializeToString()

        await serve_link(frames, batched(context.write), call, _status)

    async def CallStream(
        self, request: node_pb2.CallRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[node_pb2.CallReply]:
        try:
            async for reply in self._backend.call_stream(request, request.timeout_s):
                yield reply
        except MicroError as error:
            await _fail(context, error)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short: a unix socket path must fit in 108 bytes, which pytest's tmp_path may not.
    path = Path(tempfile.mkdtemp(prefix="gw", dir="/tmp"))
    yield path
    shutil.rmtree(path)


@pytest.fixture
def stand_in(backend: DirectBackend) -> _StandInNode:
    return _StandInNode(backend)


@pytest_asyncio.fixture
async def node_client(stand_in: _StandInNode, data_dir: Path) -> AsyncIterator[TestClient]:
    server = grpc.aio.server()
    node_pb2_grpc.add_NodeServicer_to_server(stand_in, server)
    server.add_insecure_port(f"unix:{data_dir / 'node.sock'}")
    await server.start()
    local = LocalApiBackend(data_dir)
    async with TestClient(TestServer(create_app(local, timeout=5.0))) as http:
        yield http
    await local.close()
    await server.stop(None)


async def test_the_node_is_asked_for_the_bearer_token_of_a_call(node_client: TestClient,
                                                                 stand_in: _StandInNode) -> None:
    await node_client.post("/helloworld/call", json={"name": "a"}, headers={"Authorization": "Bearer T0K"})

    assert [(r.credential.token, r.resource) for r in stand_in.asked] == [("T0K", "service:helloworld:Helloworld.Call")]


async def test_the_node_is_asked_for_the_public_when_a_request_has_no_token(node_client: TestClient,
                                                                           stand_in: _StandInNode) -> None:
    await node_client.get("/services")

    assert [(r.credential, r.resource) for r in stand_in.asked] == [
        (node_pb2.Credential(anonymous=True), "service:*")]


async def test_a_call_through_the_local_api_says_hello(node_client: TestClient) -> None:
    response = await node_client.post("/helloworld/call", json={"name": "a"})
    assert await response.json() == {"msg": "Hello a"}


async def test_a_service_error_through_the_local_api_keeps_its_status_and_id(node_client: TestClient) -> None:
    response = await node_client.post("/helloworld/refuse", json={"status": "PERMISSION_DENIED"})
    body = await response.json()
    assert (response.status, body["id"], body["status"]) == (403, "helloworld", "PERMISSION_DENIED")


async def test_an_unknown_service_through_the_local_api_is_404(node_client: TestClient) -> None:
    response = await node_client.post("/nobody/call", json={})
    assert response.status == 404


async def test_a_stream_through_the_local_api_arrives_as_events(node_client: TestClient) -> None:
    response = await node_client.post("/helloworld/count", json={"count": 2})
    assert await response.text() == 'data: {\ndata:  "n": 0\ndata: }\n\ndata: {\ndata:  "n": 1\ndata: }\n\n'


async def test_a_handler_past_the_deadline_through_the_local_api_is_504(node_client: TestClient) -> None:
    response = await node_client.post("/helloworld/slow", json={"seconds": 5}, headers={"Timeout": "0.2"})
    assert response.status == 504


async def test_no_node_on_the_data_dir_is_503_saying_so(data_dir: Path) -> None:
    async with TestClient(TestServer(create_app(LocalApiBackend(data_dir)))) as http:
        response = await http.post("/helloworld/call", json={"name": "a"})
        body = await response.json()
    assert (response.status, body["status"]) == (503, "UNAVAILABLE")
    assert "no node running" in body["detail"]


@pytest.mark.parametrize("page", ["/services", "/openapi.json"])
async def test_the_registry_pages_without_a_node_are_503(data_dir: Path, page: str) -> None:
    async with TestClient(TestServer(create_app(LocalApiBackend(data_dir)))) as http:
        response = await http.get(page)
        body = await response.json()
    assert (response.status, body["status"], body["code"]) == (503, "UNAVAILABLE", 503)
