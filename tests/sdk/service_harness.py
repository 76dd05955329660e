"""Helpers for the SDK service tests: a Service's instance server started in-process, called with grpc.aio
exactly as a node calls it (raw bytes on the endpoint's gRPC method path), and a small protobuf service
generated with grpc_tools at test time."""

from __future__ import annotations

import contextlib
import importlib
import importlib.resources
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from micro.sdk import Service, errors


@contextlib.asynccontextmanager
async def serving(service: Service) -> AsyncIterator[grpc.aio.Channel]:
    """The started instance and a channel to it; both closed on exit."""
    await service.start()
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            yield channel
    finally:
        await service.stop(0)


async def call_json(channel: grpc.aio.Channel, method: str, request: Any = None, **options: Any) -> Any:
    """A unary call with a JSON body (`request` may also be raw bytes) and the decoded JSON reply."""
    body = request if isinstance(request, bytes) else json.dumps(request or {}).encode()
    return json.loads(await channel.unary_unary(method)(body, **options))


def micro_error(exc: grpc.aio.AioRpcError) -> dict[str, Any]:
    """The Micro error object a failed call carried in its status details, checked to be the same as the
    one in its trailing metadata."""
    details = json.loads(exc.details() or "")
    trailing = dict(exc.trailing_metadata() or ())
    assert json.loads(trailing["micro-error"]) == details
    return details  # type: ignore[no-any-return]


_COMMON = """
syntax = "proto3";
package micro.sdktest.v1;
message Name { string first = 1; string last = 2; }
"""

# Greeter imports a file of its own and one of protobuf's, so its descriptor set has dependencies.
_GREETER = """
syntax = "proto3";
package micro.sdktest.v1;
import "sdktest_common.proto";
import "google/protobuf/timestamp.proto";
service Greeter {
  rpc SayHello(HelloRequest) returns (HelloReply);
  rpc Countdown(CountdownRequest) returns (stream HelloReply);
  rpc Unwritten(HelloRequest) returns (HelloReply);
}
service Uploader {
  rpc Upload(stream HelloRequest) returns (HelloReply);
}
message HelloRequest { Name name = 1; }
message HelloReply { string msg = 1; google.protobuf.Timestamp at = 2; }
message CountdownRequest { int32 start = 1; }
"""


@contextlib.contextmanager
def generated_greeter(out: Path) -> Iterator[tuple[ModuleType, ModuleType]]:
    """(sdktest_greeter_pb2, sdktest_greeter_pb2_grpc), generated into `out` and importable meanwhile."""
    from grpc_tools import protoc  # a test dependency: its absence must fail, not skip
    (out / "sdktest_common.proto").write_text(_COMMON)
    (out / "sdktest_greeter.proto").write_text(_GREETER)
    includes = importlib.resources.files("grpc_tools") / "_proto"
    status = protoc.main(["protoc", f"-I{out}", f"-I{includes}", f"--python_out={out}",
                          f"--grpc_python_out={out}", "sdktest_common.proto", "sdktest_greeter.proto"])
    assert status == 0
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("sdktest_greeter_pb2"), importlib.import_module("sdktest_greeter_pb2_grpc")
    finally:
        sys.path.remove(str(out))


def greeter_servicer(pb: ModuleType, pb_grpc: ModuleType) -> Any:
    """A Greeter servicer: SayHello greets (or fails, for the first names "nobody", "boom" and "stranger"),
    Countdown streams start..1; Unwritten is left to the generated base."""

    class Greeter(pb_grpc.GreeterServicer):  # type: ignore[misc, name-defined]
        async def SayHello(self, request: Any, context: Any) -> Any:
            if request.name.first == "nobody":
                raise errors.not_found("greeter", "nobody is here")
            if request.name.first == "boom":
                raise RuntimeError("it broke")
            if request.name.first == "stranger":
                await context.abort(grpc.StatusCode.PERMISSION_DENIED, "no strangers")
            return pb.HelloReply(msg=f"Hello {request.name.first} {request.name.last} from {context.caller}")

        async def Countdown(self, request: Any, context: Any) -> AsyncIterator[Any]:
            for n in range(request.start, 0, -1):
                yield pb.HelloReply(msg=str(n))

    return Greeter()
