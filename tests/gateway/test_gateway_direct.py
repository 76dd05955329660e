"""`DirectBackend` calls the instances it was given directly, round-robin."""

from __future__ import annotations

import pytest
from micro.gateway import DirectBackend
from micro.node.api.proto import node_pb2
from micro.sdk.errors import MicroError

from gateway_services import helloworld_instance

pytestmark = pytest.mark.asyncio

_HELLO = node_pb2.CallRequest(service="helloworld", endpoint="Helloworld.Call", body=b'{"name":"x"}')


async def test_calls_take_the_instances_in_turn(backend: DirectBackend) -> None:
    first = (await backend.describe("helloworld")).instances[0]
    backend.add(helloworld_instance(first.address, "helloworld-2"))
    answered = [(await backend.call(_HELLO, 5.0)).instance for _ in range(4)]
    assert sorted(answered) == ["helloworld-1", "helloworld-1", "helloworld-2", "helloworld-2"]


async def test_an_unknown_service_is_not_found(backend: DirectBackend) -> None:
    with pytest.raises(MicroError) as raised:
        await backend.describe("nobody")
    assert raised.value.status == "NOT_FOUND"


async def test_a_service_error_keeps_the_services_id_and_status(backend: DirectBackend) -> None:
    refuse = node_pb2.CallRequest(
        service="helloworld", endpoint="Helloworld.Refuse", body=b'{"status":"ABORTED"}'
    )
    with pytest.raises(MicroError) as raised:
        await backend.call(refuse, 5.0)
    assert (raised.value.id, raised.value.status) == ("helloworld", "ABORTED")
