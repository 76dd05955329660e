"""Protobuf servicers served by `micro.sdk.Service`: code generated from a small .proto at test time,
served in-process and called with the generated stub, as the node and the gateway would call it."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool
from micro.sdk import Service
from micro.sdk.protobuf import descriptor_set
from service_harness import generated_greeter, greeter_servicer, micro_error, serving

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    with generated_greeter(tmp_path_factory.mktemp("proto")) as modules:
        yield modules


@pytest.fixture
def pb(generated: tuple[ModuleType, ModuleType]) -> ModuleType:
    return generated[0]


@pytest.fixture
def pb_grpc(generated: tuple[ModuleType, ModuleType]) -> ModuleType:
    return generated[1]


def _service(pb_grpc: ModuleType, pb: ModuleType) -> Service:
    service = Service("greeter")
    service.add_servicer(pb_grpc.add_GreeterServicer_to_server, greeter_servicer(pb, pb_grpc))
    return service


async def test_a_servicer_is_served_on_its_real_grpc_path(pb: ModuleType, pb_grpc: ModuleType) -> None:
    async with serving(_service(pb_grpc, pb)) as channel:
        reply = await pb_grpc.GreeterStub(channel).SayHello(
            pb.HelloRequest(name={"first": "Ada", "last": "L"}), metadata=(("micro-caller", "Nx"),))

    assert reply.msg == "Hello Ada L from Nx"


async def test_servicer_endpoints_use_the_short_service_name_and_full_message_names(
        pb: ModuleType, pb_grpc: ModuleType) -> None:
    endpoints = {e.name: e for e in _service(pb_grpc, pb).endpoints}

    assert sorted(endpoints) == ["Greeter.Countdown", "Greeter.SayHello"]
    hello = endpoints["Greeter.SayHello"]
    assert (hello.method, hello.codec, hello.request_type, hello.response_type, hello.server_streaming) == (
        "/micro.sdktest.v1.Greeter/SayHello", "proto", "micro.sdktest.v1.HelloRequest",
        "micro.sdktest.v1.HelloReply", False)
    assert endpoints["Greeter.Countdown"].server_streaming


async def test_a_service_descriptor_serves_the_same_as_the_add_function(pb: ModuleType, pb_grpc: ModuleType) -> None:
    service = Service("greeter")
    service.add_servicer(pb.DESCRIPTOR.services_by_name["Greeter"], greeter_servicer(pb, pb_grpc))

    assert [e.name for e in service.endpoints] == [e.name for e in _service(pb_grpc, pb).endpoints]
    async with serving(service) as channel:
        reply = await pb_grpc.GreeterStub(channel).SayHello(pb.HelloRequest(name={"first": "Bo"}))
    assert reply.msg.startswith("Hello Bo")


async def test_the_descriptor_set_holds_the_service_file_and_its_imports_dependencies_first(
        pb: ModuleType) -> None:
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set([pb.DESCRIPTOR.services_by_name["Greeter"]]))
    names = [f.name for f in files.file]

    assert sorted(names) == ["google/protobuf/timestamp.proto", "sdktest_common.proto", "sdktest_greeter.proto"]
    assert names[-1] == "sdktest_greeter.proto"
    # A pool built from the set alone, in its order, knows the service and its messages.
    pool = descriptor_pool.DescriptorPool()
    for file in files.file:
        pool.Add(file)
    assert pool.FindServiceByName("micro.sdktest.v1.Greeter").methods_by_name["SayHello"].input_type.fields[0] \
        .message_type.full_name == "micro.sdktest.v1.Name"


async def test_no_protobuf_service_means_an_empty_descriptor_set() -> None:
    assert descriptor_set([]) == b""


async def test_a_server_streaming_method_sends_each_yielded_message(pb: ModuleType, pb_grpc: ModuleType) -> None:
    async with serving(_service(pb_grpc, pb)) as channel:
        replies = [r.msg async for r in pb_grpc.GreeterStub(channel).Countdown(pb.CountdownRequest(start=3))]

    assert replies == ["3", "2", "1"]


@pytest.mark.parametrize(("first", "status", "error"), [
    ("nobody", grpc.StatusCode.NOT_FOUND,
     {"id": "greeter", "code": 404, "detail": "nobody is here", "status": "NOT_FOUND"}),
    ("boom", grpc.StatusCode.INTERNAL,
     {"id": "greeter", "code": 500, "detail": "it broke", "status": "INTERNAL"}),
])
async def test_servicer_failures_answer_as_micro_errors(pb: ModuleType, pb_grpc: ModuleType, first: str,
                                                        status: grpc.StatusCode, error: dict[str, Any]) -> None:
    async with serving(_service(pb_grpc, pb)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await pb_grpc.GreeterStub(channel).SayHello(pb.HelloRequest(name={"first": first}))

    assert failed.value.code() == status
    assert micro_error(failed.value) == error


async def test_a_servicer_aborts_through_its_context_as_with_grpc(pb: ModuleType, pb_grpc: ModuleType) -> None:
    async with serving(_service(pb_grpc, pb)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await pb_grpc.GreeterStub(channel).SayHello(pb.HelloRequest(name={"first": "stranger"}))

    assert (failed.value.code(), failed.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "no strangers")


async def test_a_method_left_to_the_generated_base_is_not_served(pb: ModuleType, pb_grpc: ModuleType) -> None:
    async with serving(_service(pb_grpc, pb)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await pb_grpc.GreeterStub(channel).Unwritten(pb.HelloRequest())

    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_body_that_does_not_parse_is_invalid_argument(pb: ModuleType, pb_grpc: ModuleType) -> None:
    async with serving(_service(pb_grpc, pb)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await channel.unary_unary("/micro.sdktest.v1.Greeter/SayHello")(b"\x0a\xff\xff")

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "micro.sdktest.v1.HelloRequest" in micro_error(failed.value)["detail"]


async def test_a_client_streaming_method_is_refused(pb: ModuleType, pb_grpc: ModuleType) -> None:
    class Uploader(pb_grpc.UploaderServicer):  # type: ignore[misc, name-defined]
        async def Upload(self, requests: Any, context: Any) -> Any:
            return pb.HelloReply()

    with pytest.raises(TypeError, match="client-streaming"):
        Service("up").add_servicer(pb_grpc.add_UploaderServicer_to_server, Uploader())


async def test_a_servicer_method_that_is_not_async_is_refused(pb: ModuleType, pb_grpc: ModuleType) -> None:
    class Greeter(pb_grpc.GreeterServicer):  # type: ignore[misc, name-defined]
        def SayHello(self, request: Any, context: Any) -> Any:
            return pb.HelloReply()

    with pytest.raises(TypeError, match="must be an async function"):
        Service("greeter").add_servicer(pb_grpc.add_GreeterServicer_to_server, Greeter())
