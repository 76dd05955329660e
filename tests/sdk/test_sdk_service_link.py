"""The call link an instance serves its node (`sdk/link.py`): the node's own client for it
(`InstanceChannels.link`) calls a Service started in this process, over the instance's gRPC server and
over the link socket it serves beside it in its data dir's `instances/`, and every answer, failure
included, is the one the same unary call gets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import pytest
import pytest_asyncio
from micro.node.api.instances import InstanceChannels
from micro.node.api.proto import node_pb2
from micro.sdk import Context, Service, errors
from node_harness import PATIENCE, until
from service_harness import call_json, generated_greeter, greeter_servicer, micro_error, serving

pytestmark = pytest.mark.asyncio

seen: list[dict[str, Any]] = []


def _service() -> Service:
    service = Service("linked")

    @service.endpoint("Linked.Echo")
    async def echo(request: dict[str, Any], ctx: Context) -> dict[str, Any]:
        seen.append({"metadata": ctx.metadata, "caller": ctx.caller, "deadline": ctx.deadline})
        if request.get("fail") == "missing":
            raise errors.not_found("linked", "no such thing")
        if request.get("fail") == "boom":
            raise RuntimeError("it broke")
        if request.get("fail") == "teapot":
            ctx.set_code(grpc.StatusCode.FAILED_PRECONDITION)
            ctx.set_details("not now")
            return {}
        if request.get("sleep"):
            try:
                await asyncio.sleep(request["sleep"])
            finally:
                seen[-1]["cancelled"] = ctx.cancelled()
        return {"echo": request.get("say", "")}

    @service.endpoint("Linked.Count")
    async def count(request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        yield {"n": 1}

    return service


class Linked(NamedTuple):
    channel: grpc.aio.Channel
    """A gRPC channel to the instance, for the same calls made unary."""
    instances: InstanceChannels
    address: str
    socket: str
    """The instance's link socket ("" on the gRPC link)."""


def _socket(service: Service, kind: str) -> str:
    """The link socket a caller of `kind` uses: "" says the gRPC link, as for an instance that registered
    no link socket."""
    assert service.link_socket
    return service.link_socket if kind == "socket" else ""


@pytest_asyncio.fixture(params=["grpc", "socket"])
async def linked(request: pytest.FixtureRequest) -> AsyncIterator[Linked]:
    service = _service()
    seen.clear()
    async with serving(service) as channel:
        instances = InstanceChannels()
        try:
            yield Linked(channel, instances, service.address, _socket(service, request.param))
        finally:
            await instances.close()


async def over_link(linked: Linked, method: str, request: Any, metadata: dict[str, str] | None = None,
                    timeout: float | None = 5.0, body: bytes | None = None) -> Any:
    call = node_pb2.InstanceCall(method=method, body=json.dumps(request).encode() if body is None else body,
                                 metadata=metadata or {})
    return json.loads(await linked.instances.link(linked.address, linked.socket).call(call.SerializeToString(), timeout))


async def test_an_endpoint_answers_over_the_link_as_over_a_unary_call(linked: Linked) -> None:
    assert await over_link(linked, "/Linked/Echo", {"say": "hi"}) == {"echo": "hi"}
    assert await call_json(linked.channel, "/Linked/Echo", {"say": "hi"}) == {"echo": "hi"}


async def test_a_handler_called_over_the_link_sees_the_metadata_the_caller_and_the_deadline(linked: Linked) -> None:
    await over_link(linked, "/Linked/Echo", {}, {"x-request-id": "7", "micro-caller": "Nnode"}, 2 * PATIENCE)

    (call,) = seen
    assert call["metadata"] == {"x-request-id": "7", "micro-caller": "Nnode"} and call["caller"] == "Nnode"
    assert PATIENCE < call["deadline"] <= 2 * PATIENCE  # what was left of it when the handler started


@pytest.mark.parametrize("fail", ["missing", "boom", "teapot"])
async def test_a_failure_over_the_link_is_the_status_the_unary_call_ends_with(linked: Linked, fail: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as unary:
        await call_json(linked.channel, "/Linked/Echo", {"fail": fail})
    with pytest.raises(grpc.aio.AioRpcError) as linked_call:
        await over_link(linked, "/Linked/Echo", {"fail": fail})

    assert linked_call.value.code() == unary.value.code()
    assert linked_call.value.details() == unary.value.details()
    assert tuple(linked_call.value.trailing_metadata()) == tuple(unary.value.trailing_metadata())
    assert await over_link(linked, "/Linked/Echo", {"say": "after"}) == {"echo": "after"}


async def test_a_bad_body_over_the_link_is_the_services_bad_request(linked: Linked) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await over_link(linked, "/Linked/Echo", None, body=b"{not json")

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert micro_error(failed.value)["id"] == "linked"


@pytest.mark.parametrize("method", ["/Linked/Count", "/Linked/Nothing"])
async def test_streaming_and_unknown_methods_are_not_served_over_the_link(linked: Linked, method: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await over_link(linked, method, {})

    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_link_call_out_of_time_is_deadline_exceeded_and_its_handler_cancelled(linked: Linked) -> None:
    # The deadline leaves the call ample time to reach the handler first (milliseconds on an idle machine).
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await over_link(linked, "/Linked/Echo", {"sleep": 60}, timeout=2.0)

    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    [call] = seen  # it reached the handler
    await until(lambda: "cancelled" in call, PATIENCE, "the handler to end")
    assert call["cancelled"] is True


async def test_a_servicer_aborting_over_the_link_ends_the_call_with_its_status(tmp_path: Any) -> None:
    with generated_greeter(tmp_path) as (pb, pb_grpc):
        service = Service("greeter")
        service.add_servicer(pb_grpc.add_GreeterServicer_to_server, greeter_servicer(pb, pb_grpc))
        async with serving(service):
            instances = InstanceChannels()
            try:
                call = node_pb2.InstanceCall(method="/micro.sdktest.v1.Greeter/SayHello",
                                             body=pb.HelloRequest(name={"first": "stranger"}).SerializeToString())
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await instances.link(service.address).call(call.SerializeToString(), 5.0)
                hello = node_pb2.InstanceCall(method="/micro.sdktest.v1.Greeter/SayHello", metadata={"micro-caller": "Nn"},
                                              body=pb.HelloRequest(name={"first": "Ada", "last": "L"}).SerializeToString())
                reply = pb.HelloReply.FromString(await instances.link(service.address).call(hello.SerializeToString(), 5.0))
            finally:
                await instances.close()

    assert (failed.value.code(), failed.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "no strangers")
    assert reply.msg == "Hello Ada L from Nn"


@pytest.mark.parametrize("kind", ["grpc", "socket"])
async def test_stopping_a_service_ends_its_links_once_their_calls_are_answered(kind: str) -> None:
    service = _service()
    await service.start()
    socket = _socket(service, kind)
    linked = Linked(None, InstanceChannels(), service.address, socket)  # type: ignore[arg-type]
    try:
        calls = len(seen)
        slow = asyncio.create_task(over_link(linked, "/Linked/Echo", {"sleep": 1.0, "say": "x"}))
        await until(lambda: len(seen) > calls, PATIENCE, "the call to reach its handler")
        # A grace four times the wait: the link must not hold the server that long.
        async with asyncio.timeout(PATIENCE):
            await service.stop(4 * PATIENCE)
        assert await slow == {"echo": "x"}
    finally:
        await linked.instances.close()
    assert not Path(service.link_socket).exists()
