"""Real gRPC servers for the gateway tests, and the registry records that describe them.

`helloworld` is a JSON service like the SDK's dict handlers (bytes of JSON in and out, a JSON Schema per
endpoint); `library` is a protobuf service (test.library.Books from library.proto) served from the
generated messages, registered with its FileDescriptorSet. Both run on grpc.aio servers on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, timestamp_pb2
from micro.node.api.proto import node_pb2
from micro.sdk import errors

import library_pb2

JsonHandler = Callable[[dict[str, Any], grpc.aio.ServicerContext], Awaitable[dict[str, Any]]]

CALL_SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}},
    "required": ["name"],
}
ECHO_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "count": {"type": "integer"},
        "ratio": {"type": "number"},
        "loud": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "where": {"$ref": "#/$defs/place"},
    },
    "$defs": {  # recursive: a place may be near another
        "place": {"type": "object", "properties": {"city": {"type": "string"}, "near": {"$ref": "#/$defs/place"}}}
    },
}


async def _call(request: dict[str, Any], context: grpc.aio.ServicerContext) -> dict[str, Any]:
    return {"msg": f"Hello {request['name']}"}


async def _echo(request: dict[str, Any], context: grpc.aio.ServicerContext) -> dict[str, Any]:
    metadata = {key: value for key, value in context.invocation_metadata() if key.startswith("micro-")}
    return {"request": request, "metadata": metadata}


async def _slow(request: dict[str, Any], context: grpc.aio.ServicerContext) -> dict[str, Any]:
    await asyncio.sleep(request.get("seconds", 5))
    return {"slept": True}


async def _crash(request: dict[str, Any], context: grpc.aio.ServicerContext) -> dict[str, Any]:
    raise RuntimeError("the handler broke")


async def _refuse(request: dict[str, Any], context: grpc.aio.ServicerContext) -> dict[str, Any]:
    """Fails with the gRPC status the request names, carrying Micro's error body as the SDK does."""
    status = request["status"]
    await context.abort(
        grpc.StatusCode[status], errors.of_status("helloworld", status, f"refused: {status}").to_json()
    )
    raise AssertionError("abort returns only by raising")


CANCELLED_STREAMS: list[int] = []
"""The `count` of each Count stream its caller cancelled."""


async def _count(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
    """Server streaming: `count` replies `pace` seconds apart, then the status `fail` names, if any."""
    fields = json.loads(request)
    try:
        for n in range(fields["count"]):
            if n:
                await asyncio.sleep(fields.get("pace", 0))
            yield json.dumps({"n": n}, indent=1).encode()  # indented: replies may hold line breaks
    except asyncio.CancelledError:
        CANCELLED_STREAMS.append(fields["count"])
        raise
    if fields.get("fail"):
        await context.abort(grpc.StatusCode[fields["fail"]], "the stream broke")


def _json_unary(handler: JsonHandler) -> grpc.RpcMethodHandler:
    async def serve(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return json.dumps(await handler(json.loads(request), context)).encode()

    return grpc.unary_unary_rpc_method_handler(serve)


FAR_FUTURE = "far future"
"""A title `Add` answers with a publication date past year 9999, which a Timestamp's JSON cannot write."""
BROKEN = "broken"
"""A tag `List` answers with bytes that are no Book as its second reply."""


async def _add(book: library_pb2.Book, context: grpc.aio.ServicerContext) -> library_pb2.Book:
    added = library_pb2.Book()
    added.CopyFrom(book)
    added.available = True
    if book.title == FAR_FUTURE:
        added.published.seconds = 10**15
    return added


async def _list(request: library_pb2.ListRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
    for n in range(request.count):
        if request.tag == BROKEN and n == 1:
            yield b"\x0a\xff"  # a title field longer than the message
            continue
        yield library_pb2.Book(title=f"Book {n}", tags=[request.tag], pages=n)


def _serialize(reply: library_pb2.Book | bytes) -> bytes:
    return reply if isinstance(reply, bytes) else reply.SerializeToString()


HELLOWORLD_HANDLERS = {
    "Call": _json_unary(_call),
    "Echo": _json_unary(_echo),
    "Slow": _json_unary(_slow),
    "Crash": _json_unary(_crash),
    "Refuse": _json_unary(_refuse),
    "Count": grpc.unary_stream_rpc_method_handler(_count),
}

LIBRARY_HANDLERS = {
    "Add": grpc.unary_unary_rpc_method_handler(
        _add,
        request_deserializer=library_pb2.Book.FromString,
        response_serializer=library_pb2.Book.SerializeToString,
    ),
    "List": grpc.unary_stream_rpc_method_handler(
        _list,
        request_deserializer=library_pb2.ListRequest.FromString,
        response_serializer=_serialize,
    ),
}


def helloworld_instance(address: str, instance_id: str = "helloworld-1") -> node_pb2.ServiceInstance:
    def endpoint(
        method: str, schema: dict[str, Any] | None = None, streaming: bool = False
    ) -> node_pb2.Endpoint:
        return node_pb2.Endpoint(
            name=f"Helloworld.{method}",
            method=f"/Helloworld/{method}",
            codec="json",
            request_schema=json.dumps(schema) if schema else "",
            server_streaming=streaming,
        )

    endpoints = [
        endpoint("Call", CALL_SCHEMA),
        endpoint("Echo", ECHO_SCHEMA),
        endpoint("Slow"),
        endpoint("Crash"),
        endpoint("Refuse"),
        endpoint("Count", streaming=True),
    ]
    return node_pb2.ServiceInstance(
        id=instance_id, service="helloworld", version="1.0.0", address=address, endpoints=endpoints
    )


def library_instance(address: str) -> node_pb2.ServiceInstance:
    books = library_pb2.DESCRIPTOR.services_by_name["Books"]
    endpoints = [
        node_pb2.Endpoint(
            name=f"{books.name}.{method.name}",
            method=f"/{books.full_name}/{method.name}",
            codec="proto",
            request_type=method.input_type.full_name,
            response_type=method.output_type.full_name,
            server_streaming=method.server_streaming,
        )
        for method in books.methods
    ]
    return node_pb2.ServiceInstance(
        id="library-1", service="library", version="2.0.0", address=address, endpoints=endpoints
    )


def library_descriptor_set() -> bytes:
    """library.proto and its import, the importing file first (the gateway must order them itself)."""
    files = descriptor_pb2.FileDescriptorSet()
    library_pb2.DESCRIPTOR.CopyToProto(files.file.add())
    timestamp_pb2.DESCRIPTOR.CopyToProto(files.file.add())
    return files.SerializeToString()


async def start_server(handlers: dict[str, dict[str, grpc.RpcMethodHandler]]) -> tuple[grpc.aio.Server, str]:
    """A grpc.aio server on a free 127.0.0.1 port serving {service path: {method: handler}}."""
    server = grpc.aio.server()
    for service, methods in handlers.items():
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, methods),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"
