"""Who calls, as a handler sees it (`ctx.account`, from the `micro-account-*` metadata a node stamps), and
the scopes an endpoint requires of that account (`scopes=` on `endpoint`, `handle` and `add_servicer`,
`@requires` on one function): checked by the instance itself, on unary calls, server streams and call
links alike, before the handler or its body decoding runs. Services started in-process, called as a node
calls them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest
from micro.node.api.instances import InstanceChannels
from micro.node.api.proto import node_pb2
from micro.sdk import Context, Service, requires
from service_harness import call_json, generated_greeter, micro_error, serving

pytestmark = pytest.mark.asyncio

ran: list[str] = []


def _as(name: str, *scopes: str, account_id: str = "Aaccount") -> dict[str, str]:
    """The metadata a node stamps on a call it admitted for an account."""
    return {"micro-account-id": account_id, "micro-account-name": name, "micro-account-scopes": ",".join(scopes)}


def _service() -> Service:
    service = Service("scoped")

    @service.endpoint("Scoped.Whoami")
    async def whoami(request: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"account": None if ctx.account is None else [ctx.account.id, ctx.account.name,
                                                              list(ctx.account.scopes)]}

    @service.endpoint("Scoped.Write", scopes=["writer", "auditor"])
    async def write(request: dict[str, Any]) -> dict[str, Any]:
        ran.append("write")
        return {}

    @service.endpoint("Scoped.Feed", scopes=["reader"])
    async def feed(request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        ran.append("feed")
        yield {}

    class Admin:
        async def reset(self, request: dict[str, Any]) -> dict[str, Any]:
            ran.append("reset")
            return {}

        @requires("danger")
        async def purge(self, request: dict[str, Any]) -> dict[str, Any]:
            ran.append("purge")
            return {}

    service.handle(Admin(), scopes=["ops"])
    return service


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    ran.clear()
    yield


async def _refusal(call: Any) -> tuple[grpc.StatusCode, dict[str, Any]]:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    return failed.value.code(), micro_error(failed.value)


async def test_a_handler_sees_the_account_the_node_named() -> None:
    async with serving(_service()) as channel:
        reply = await call_json(channel, "/Scoped/Whoami", {}, metadata=tuple(_as("ann", "a", "b").items()))

    assert reply == {"account": ["Aaccount", "ann", ["a", "b"]]}


async def test_a_call_no_node_named_an_account_for_has_none() -> None:
    async with serving(_service()) as channel:
        assert await call_json(channel, "/Scoped/Whoami", {}) == {"account": None}


async def test_an_account_the_node_names_without_an_id_or_scopes_has_empty_ones() -> None:
    async with serving(_service()) as channel:
        reply = await call_json(channel, "/Scoped/Whoami", {}, metadata=tuple(_as("someone", account_id="").items()))

    assert reply == {"account": ["", "someone", []]}


async def test_an_account_lacking_a_required_scope_is_403_before_the_handler_runs() -> None:
    async with serving(_service()) as channel:
        code, error = await _refusal(call_json(channel, "/Scoped/Write", {}, metadata=tuple(_as("ann", "writer").items())))

    assert (code, error["code"], error["id"]) == (grpc.StatusCode.PERMISSION_DENIED, 403, "scoped")
    assert "auditor" in error["detail"] and ran == []


async def test_a_call_without_an_account_to_a_scoped_endpoint_is_401() -> None:
    async with serving(_service()) as channel:
        code, error = await _refusal(call_json(channel, "/Scoped/Write", {}))

    assert (code, error["code"]) == (grpc.StatusCode.UNAUTHENTICATED, 401) and ran == []


async def test_an_account_holding_every_required_scope_is_served() -> None:
    async with serving(_service()) as channel:
        await call_json(channel, "/Scoped/Write", {}, metadata=tuple(_as("ann", "auditor", "writer", "x").items()))

    assert ran == ["write"]


async def test_the_admin_scope_holds_every_scope() -> None:
    async with serving(_service()) as channel:
        await call_json(channel, "/Scoped/Write", {}, metadata=tuple(_as("root", "admin").items()))

    assert ran == ["write"]


async def test_the_scopes_are_checked_before_the_body_is_decoded() -> None:
    async with serving(_service()) as channel:
        code, _ = await _refusal(call_json(channel, "/Scoped/Write", b"{not json"))

    assert code == grpc.StatusCode.UNAUTHENTICATED  # not INVALID_ARGUMENT: nothing is read for a refused call


async def test_a_scoped_server_stream_is_refused_before_its_first_message() -> None:
    async with serving(_service()) as channel:
        stream = channel.unary_stream("/Scoped/Feed")(b"{}", metadata=tuple(_as("ann", "writer").items()))
        code, _ = await _refusal(_drain(stream))

    assert code == grpc.StatusCode.PERMISSION_DENIED and ran == []


async def _drain(stream: Any) -> None:
    async for _ in stream:
        pass


async def test_handle_scopes_every_method_and_requires_adds_to_one() -> None:
    async with serving(_service()) as channel:
        await call_json(channel, "/Admin/Reset", {}, metadata=tuple(_as("op", "ops").items()))
        code, _ = await _refusal(call_json(channel, "/Admin/Purge", {}, metadata=tuple(_as("op", "ops").items())))
        await call_json(channel, "/Admin/Purge", {}, metadata=tuple(_as("op", "ops", "danger").items()))

    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert ran == ["reset", "purge"]


async def test_a_scoped_endpoint_is_refused_over_the_call_link_as_over_a_unary_call() -> None:
    service = _service()
    async with serving(service):
        instances = InstanceChannels()
        try:
            link = instances.link(service.address, service.link_socket)
            call = node_pb2.InstanceCall(method="/Scoped/Write", body=b"{}", metadata=_as("ann", "writer"))
            code, error = await _refusal(link.call(call.SerializeToString(), 5.0))
            served = node_pb2.InstanceCall(method="/Scoped/Write", body=b"{}",
                                           metadata=_as("ann", "writer", "auditor"))
            assert json.loads(await link.call(served.SerializeToString(), 5.0)) == {}
        finally:
            await instances.close()

    assert (code, error["id"]) == (grpc.StatusCode.PERMISSION_DENIED, "scoped")
    assert ran == ["write"]


async def test_a_protobuf_servicer_takes_scopes_too(tmp_path: Path) -> None:
    with generated_greeter(tmp_path) as (pb2, pb2_grpc):
        service = Service("greeter")
        service.add_servicer(pb2_grpc.add_GreeterServicer_to_server, _greeter(pb2, pb2_grpc), scopes=["greet"])
        async with serving(service) as channel:
            request = pb2.HelloRequest().SerializeToString()
            say = channel.unary_unary("/micro.sdktest.v1.Greeter/SayHello")
            code, _ = await _refusal(say(request, metadata=tuple(_as("ann", "other").items())))
            assert await say(request, metadata=tuple(_as("ann", "greet").items()))

    assert code == grpc.StatusCode.PERMISSION_DENIED


def _greeter(pb2: ModuleType, pb2_grpc: ModuleType) -> Any:
    class Greeter(pb2_grpc.GreeterServicer):  # type: ignore[name-defined,misc]
        async def SayHello(self, request: Any, ctx: Context) -> Any:
            return pb2.HelloReply(msg="hi")

    return Greeter()


@pytest.mark.parametrize(("scopes", "error"), [("writer", TypeError), (["a,b"], ValueError), (["*"], ValueError),
                                               ([""], ValueError)])
async def test_a_bad_scope_is_refused_when_the_endpoint_is_added(scopes: Any, error: type[Exception]) -> None:
    service = Service("scoped")

    async def write(request: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(error):
        service.endpoint("Scoped.Write", scopes=scopes)(write)
