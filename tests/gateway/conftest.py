"""Fixtures: the two test services on real gRPC servers, a `DirectBackend` holding them, an aiohttp test
client of the gateway application over it, and the gateway served over it on a TCP port (`serve`, whose
server answers what aiohttp refuses before the application sees it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, create_app, serve

from gateway_services import (
    HELLOWORLD_HANDLERS,
    LIBRARY_HANDLERS,
    helloworld_instance,
    library_descriptor_set,
    library_instance,
    start_server,
)


@pytest_asyncio.fixture
async def backend() -> AsyncIterator[DirectBackend]:
    server, address = await start_server(
        {"Helloworld": HELLOWORLD_HANDLERS, "test.library.Books": LIBRARY_HANDLERS}
    )
    direct = DirectBackend()
    direct.add(helloworld_instance(address))
    direct.add(library_instance(address), library_descriptor_set())
    yield direct
    await direct.close()
    await server.stop(None)


@pytest_asyncio.fixture
async def client(backend: DirectBackend) -> AsyncIterator[TestClient]:
    async with TestClient(
        TestServer(create_app(backend, max_body=4096, timeout=5.0, version="9.9.9"))
    ) as http:
        yield http


@pytest_asyncio.fixture
async def big_client(backend: DirectBackend) -> AsyncIterator[TestClient]:
    """A test client of the gateway with its default body limit (1 MiB), for big hostile bodies."""
    async with TestClient(TestServer(create_app(backend, timeout=5.0))) as http:
        yield http


@pytest_asyncio.fixture
async def served(backend: DirectBackend) -> AsyncIterator[tuple[str, int]]:
    """The gateway served on a free 127.0.0.1 port: (host, port)."""
    runner = await serve(backend, "127.0.0.1", 0, max_body=4096, timeout=5.0)
    host, port = runner.addresses[0][:2]
    yield host, port
    await runner.cleanup()
