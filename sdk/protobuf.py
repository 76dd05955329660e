"""Protobuf servicers from generated code as endpoints, and the descriptors that describe them.

    service.add_servicer(greeter_pb2_grpc.add_GreeterServicer_to_server, Greeter())
    service.add_servicer(greeter_pb2.DESCRIPTOR.services_by_name["Greeter"], Greeter())   # the same

Either way the service's descriptor is found in protobuf's default pool (importing a generated `_pb2`
module puts it there). Each method becomes an endpoint named `Service.Method` with the short service name
("Greeter.SayHello"), served on its real gRPC path ("/pkg.Greeter/SayHello"), codec "proto", with the full
request and reply message names. Methods must be `async` (grpc.aio style): an `async def` for a unary
method, an async generator for a server-streaming one. A method the servicer leaves to the generated base
class (which only answers UNIMPLEMENTED) is not served; client- and bidi-streaming methods cannot be
called through the mesh and are refused.

`descriptor_set` is what the node and the gateway transcode with: a serialized FileDescriptorSet holding
each service's file and every file it imports, dependencies first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import DecodeError, Message

from .handlers import Handler, InvalidBody, check_async

__all__ = ["AddServicer", "descriptor_set", "service_descriptor", "servicer_handlers"]

AddServicer = Callable[[Any, Any], None]
"""A generated `add_XServicer_to_server(servicer, server)` function."""


class _Recorder:
    """Stands in for the grpc server given to a generated `add_XServicer_to_server`: it keeps the names of
    the services the function adds, so the descriptors can be found in the pool."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self.names.extend(handler.service_name() for handler in handlers)  # type: ignore[attr-defined]

    def add_registered_method_handlers(self, name: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        # Newer generated code also registers the same handlers here; the name is already recorded.
        pass


def service_descriptor(service: ServiceDescriptor | AddServicer, servicer: Any) -> ServiceDescriptor:
    """The descriptor given, or the one of the service a generated `add_XServicer_to_server` adds."""
    if isinstance(service, ServiceDescriptor):
        return service
    recorder = _Recorder()
    service(servicer, recorder)
    if len(recorder.names) != 1:
        raise TypeError(f"{service!r} is not a generated add_XServicer_to_server function")
    return descriptor_pool.Default().FindServiceByName(recorder.names[0])


def servicer_handlers(descriptor: ServiceDescriptor, servicer: Any) -> list[Handler]:
    """An endpoint for every method `servicer` implements."""
    handlers = []
    for method in descriptor.methods:
        function = _implementation(servicer, method.name)
        if function is not None:
            handlers.append(_handler(descriptor, method, function))
    if not handlers:
        raise TypeError(f"{type(servicer).__name__} implements no method of {descriptor.full_name}")
    return handlers


def _implementation(servicer: Any, name: str) -> Callable[..., Any] | None:
    function = getattr(servicer, name, None)
    defined_in = getattr(type(servicer), name, None)
    # The generated base servicer's placeholders live in the `_pb2_grpc` module.
    if function is None or getattr(defined_in, "__module__", "").endswith("_pb2_grpc"):
        return None
    return function  # type: ignore[no-any-return]


def _handler(service: ServiceDescriptor, method: MethodDescriptor, function: Callable[..., Any]) -> Handler:
    name = f"{service.name}.{method.name}"
    if method.client_streaming:
        raise TypeError(f"{name} is client-streaming; only unary and server-streaming methods can be served")
    if check_async(name, function) != method.server_streaming:
        shape = "an async generator" if method.server_streaming else "an async function (not a generator)"
        raise TypeError(f"the handler of {name} must be {shape}")
    request_class = message_factory.GetMessageClass(method.input_type)
    reply_class = message_factory.GetMessageClass(method.output_type)
    return Handler(
        name=name, method=f"/{service.full_name}/{method.name}", codec="proto", function=function,
        decode=lambda body: _decode(request_class, body), encode=lambda reply: _encode(reply_class, reply),
        server_streaming=method.server_streaming, with_context=True,
        request_type=method.input_type.full_name, response_type=method.output_type.full_name,
    )


def _decode(message_class: type[Message], body: bytes) -> Message:
    try:
        return message_class.FromString(body)
    except DecodeError as exc:
        raise InvalidBody(f"the body is not a {message_class.DESCRIPTOR.full_name}: {exc}") from None


def _encode(message_class: type[Message], reply: Any) -> bytes:
    if not isinstance(reply, message_class):
        raise TypeError(f"the handler returned {type(reply).__name__}, not {message_class.DESCRIPTOR.full_name}")
    return reply.SerializeToString()


def descriptor_set(services: Iterable[ServiceDescriptor]) -> bytes:
    """A serialized FileDescriptorSet of the services' files and all their imports, dependencies first;
    empty when there are no services."""
    seen: set[str] = set()
    ordered: list[descriptor_pb2.FileDescriptorProto] = []

    def add(file: FileDescriptor) -> None:
        if file.name in seen:
            return
        seen.add(file.name)
        for dependency in file.dependencies:
            add(dependency)
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        ordered.append(proto)  # after its imports

    for service in services:
        add(service.file)
    return descriptor_pb2.FileDescriptorSet(file=ordered).SerializeToString() if ordered else b""
