"""Fixtures: the two test services on real gRPC servers, a `DirectBackend` holding them, and an aiohttp
test client of the gateway application over it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from micro.gateway import DirectBackend, create_app

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
