"""examples/helloworld served in-process: the endpoints its README promises. Its stream is for accounts
holding the scope `greeter`: calls to it carry the account metadata a node stamps."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import grpc
import pytest
from micro.sdk import Service
from service_harness import call_json, micro_error, serving

pytestmark = pytest.mark.asyncio

MAIN = Path(__file__).resolve().parents[2] / "examples" / "helloworld" / "main.py"
GREETER = (("micro-account-id", "Agreeter"), ("micro-account-name", "greeter-bot"), ("micro-account-scopes", "greeter"))
"""The metadata of a call a node admitted for an account holding the scope `greeter`."""


def _helloworld() -> Service:
    """A fresh copy of the example's service (a Service serves once)."""
    spec = importlib.util.spec_from_file_location("helloworld_main", MAIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    service: Service = module.service
    return service


async def test_helloworld_registers_call_and_stream() -> None:
    service = _helloworld()

    assert (service.name, service.version) == ("helloworld", "1.0.0")
    assert {(e.name, e.server_streaming) for e in service.endpoints} == {
        ("Helloworld.Call", False), ("Helloworld.Stream", True)}


async def test_helloworld_call_greets_by_name() -> None:
    async with serving(_helloworld()) as channel:
        assert await call_json(channel, "/Helloworld/Call", {"name": "a"}) == {"msg": "Hello a"}


async def test_helloworld_call_without_a_name_is_refused_naming_it() -> None:
    async with serving(_helloworld()) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Helloworld/Call", {"nom": "a"})

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'name' is a required property" in micro_error(failed.value)["detail"]


async def test_helloworld_stream_yields_count_greetings() -> None:
    async with serving(_helloworld()) as channel:
        call = channel.unary_stream("/Helloworld/Stream")(json.dumps({"name": "a", "count": 2}).encode(),
                                                            metadata=GREETER)
        greetings = [json.loads(m)["msg"] async for m in call]

    assert greetings == ["Hello a (1 of 2)", "Hello a (2 of 2)"]


async def test_helloworld_stream_refuses_a_count_over_its_bound() -> None:
    async with serving(_helloworld()) as channel:
        call = channel.unary_stream("/Helloworld/Stream")(json.dumps({"name": "a", "count": 101}).encode(),
                                                            metadata=GREETER)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call.read()

    assert micro_error(failed.value) == {"id": "helloworld", "code": 400, "status": "INVALID_ARGUMENT",
                                         "detail": "count must be between 0 and 100"}


async def test_helloworld_stream_refuses_an_account_without_the_greeter_scope() -> None:
    others = tuple((key, "reader" if key == "micro-account-scopes" else value) for key, value in GREETER)
    async with serving(_helloworld()) as channel:
        call = channel.unary_stream("/Helloworld/Stream")(json.dumps({"name": "a", "count": 1}).encode(),
                                                            metadata=others)
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call.read()

    assert (micro_error(failed.value)["code"], micro_error(failed.value)["id"]) == (403, "helloworld")
