"""The catalog describes a service once and keeps it, describing again only when it may have changed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import pytest
from micro.gateway import DirectBackend
from micro.gateway.catalog import Catalog
from micro.node.api.proto import node_pb2
from micro.sdk.errors import MicroError

from gateway_services import helloworld_instance

pytestmark = pytest.mark.asyncio


class _Counting:
    """A backend that counts the descriptions it gives (and can be told to fail them)."""

    def __init__(self, inner: DirectBackend) -> None:
        self.inner = inner
        self.described = 0
        self.failure: MicroError | None = None

    async def services(self) -> list[node_pb2.ServiceInstance]:
        return await self.inner.services()

    async def describe(self, service: str) -> node_pb2.DescribeReply:
        self.described += 1
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        return await self.inner.describe(service)

    async def call(self, request: node_pb2.CallRequest, timeout: float) -> node_pb2.CallReply:
        return await self.inner.call(request, timeout)

    def call_stream(
        self, request: node_pb2.CallRequest, timeout: float
    ) -> AsyncGenerator[node_pb2.CallReply, None]:
        return self.inner.call_stream(request, timeout)


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counting(backend: DirectBackend) -> _Counting:
    return _Counting(backend)


async def test_concurrent_requests_share_one_description(counting: _Counting) -> None:
    catalog = Catalog(counting)
    routes = await asyncio.gather(*(catalog.route("helloworld", "Helloworld.Call") for _ in range(10)))
    assert counting.described == 1
    assert {route.endpoint.name for route in routes} == {"Helloworld.Call"}


async def test_a_description_is_kept_for_its_ttl(counting: _Counting) -> None:
    clock = _Clock()
    catalog = Catalog(counting, ttl=5.0, clock=clock)
    first = await catalog.route("library", "Books.Add")
    clock.now = 4.9
    await catalog.route("library", "Books.Add")
    assert counting.described == 1
    clock.now = 5.0
    again = await catalog.route("library", "Books.Add")
    assert counting.described == 2
    assert again.codec is first.codec  # the same endpoints and descriptors: codecs are kept


async def test_an_unknown_endpoint_describes_the_service_again(counting: _Counting) -> None:
    clock = _Clock()
    catalog = Catalog(counting, clock=clock)
    await catalog.route("helloworld", "Helloworld.Call")
    instance = helloworld_instance("127.0.0.1:1", "helloworld-2")
    instance.endpoints.add(name="Helloworld.New", method="/Helloworld/New", codec="json")
    counting.inner.add(instance)
    clock.now = 1.0
    route = await catalog.route("helloworld", "Helloworld.New")
    assert (route.endpoint.name, counting.described) == ("Helloworld.New", 2)


async def _described_then_failing(counting: _Counting, failure: MicroError) -> Catalog:
    """A catalog that described helloworld, whose next description, due now, fails with `failure`."""
    clock = _Clock()
    catalog = Catalog(counting, ttl=5.0, clock=clock)
    await catalog.route("helloworld", "Helloworld.Call")
    counting.failure = failure
    clock.now = 6.0
    return catalog


async def test_a_failed_description_keeps_serving_the_last_one(counting: _Counting) -> None:
    catalog = await _described_then_failing(
        counting, MicroError("micro.node", 503, "node busy", "UNAVAILABLE")
    )
    route = await catalog.route("helloworld", "Helloworld.Call")
    assert (route.endpoint.name, counting.described) == ("Helloworld.Call", 2)


async def test_a_service_no_longer_found_is_dropped(counting: _Counting) -> None:
    failure = MicroError("micro.node", 404, "no service helloworld", "NOT_FOUND")
    catalog = await _described_then_failing(counting, failure)
    with pytest.raises(MicroError) as raised:
        await catalog.route("helloworld", "Helloworld.Call")
    assert raised.value.status == "NOT_FOUND"
