"""Endpoints of a service and the gRPC method handlers that serve them.

A `Handler` is one endpoint: the name callers use (`Helloworld.Call`), the gRPC method path the instance
serves it on, its codec, and how to decode a request body, call the user's function, and encode what it
returns. Dict handlers (codec "json") are made here; protobuf servicers (codec "proto") in `protobuf.py`.
Both are served by `method_handler`, which works on raw bytes so that every failure, a bad body included,
becomes a Micro error:

- a `MicroError` raised by the handler answers with the gRPC status of its `status`, its JSON object
  (`{"id","code","detail","status"}`) as the status details and in the trailing metadata key
  `micro-error`;
- a body that does not decode (malformed JSON, not an object, failing the request schema, a protobuf
  that does not parse) answers INVALID_ARGUMENT with the service's id;
- any other exception answers INTERNAL with the exception's message as `detail` (no traceback leaves
  the process), its traceback is logged on stderr, and the instance keeps serving.

An endpoint may require scopes (`Handler.scopes`: given to `Service.endpoint`, `handle` or `add_servicer`,
or per function with `@requires`): a call whose account (`Context.account`) lacks one of them is refused
before its body is decoded, 403 (401 for a call with no account); the scope `admin` holds them all.

JSON endpoints live on the path `/{Service}/{Method}`: "Helloworld.Call" is served on "/Helloworld/Call".
A dict handler is `async def f(request: dict, ctx: Context) -> dict` (`ctx` may be left out); an async
generator function is a server-streaming endpoint, each yielded dict one message.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import typing
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import grpc

from ..identity.errors import Malformed
from ..identity.records import ADMIN_SCOPE, check_scopes
from ..node.api.errors import ERROR_KEY
from ..node.api.proto import node_pb2
from .context import Context
from .errors import MicroError, bad_request, forbidden, internal, unauthorized
from .schema import ANY_OBJECT, RequestChecker, schema_of

if TYPE_CHECKING:
    from .service import Service

__all__ = ["ERROR_KEY", "Handler", "InvalidBody", "admit", "as_error", "camel_case", "check_async", "decoded",
           "error_status", "json_handler", "method_handler", "requires", "scope_names", "with_scopes"]

_log = logging.getLogger("micro.sdk")
_F = TypeVar("_F", bound=Callable[..., Any])

_NAME = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*\Z")
_SCOPES_ATTRIBUTE = "__micro_scopes__"


class InvalidBody(ValueError):
    """A request body that does not decode; its message is one line for the caller."""


@dataclass(frozen=True)
class Handler:
    """One endpoint of a service and how it is served."""

    name: str
    """As callers name it: "Helloworld.Call"."""
    method: str
    """The gRPC method path on the instance: "/Helloworld/Call", "/pkg.Greeter/SayHello"."""
    codec: str
    """"json" or "proto"."""
    function: Callable[..., Any]
    decode: Callable[[bytes], Any]
    """Bytes to the request object; raises InvalidBody when they do not decode."""
    encode: Callable[[Any], bytes]
    server_streaming: bool
    with_context: bool
    request_type: str = ""
    response_type: str = ""
    request_schema: str = ""
    response_schema: str = ""
    scopes: tuple[str, ...] = ()
    """Scopes a caller's account must all hold (`admin` holds every scope); none: the node's rules decide."""

    def invoke(self, request: Any, ctx: Context) -> Any:
        """The user's function applied: an awaitable, or an async iterator for a streaming endpoint."""
        return self.function(request, ctx) if self.with_context else self.function(request)

    def to_proto(self) -> node_pb2.Endpoint:
        return node_pb2.Endpoint(
            name=self.name, method=self.method, codec=self.codec, request_type=self.request_type,
            response_type=self.response_type, request_schema=self.request_schema,
            response_schema=self.response_schema, server_streaming=self.server_streaming,
        )


def scope_names(scopes: Iterable[str]) -> tuple[str, ...]:
    """`scopes` checked as an account's are (sorted, no repeats); ValueError for a bad one, TypeError for
    a lone string (a list of names is meant)."""
    if isinstance(scopes, str):
        raise TypeError(f"scopes are a list of names, not the string {scopes!r}")
    try:
        return check_scopes(scopes)
    except Malformed as exc:
        raise ValueError(str(exc)) from None


def requires(*scopes: str) -> Callable[[_F], _F]:
    """A decorator: the endpoint served by this function (or method) requires `scopes` of its caller's
    account, besides those its service gives every endpoint it adds with it.

        class Posts:
            @requires("blog.write")
            async def save(self, request: dict, ctx: Context) -> dict: ...
    """
    names = scope_names(scopes)

    def mark(function: _F) -> _F:
        setattr(function, _SCOPES_ATTRIBUTE, names)
        return function

    return mark


def with_scopes(handler: Handler, scopes: Iterable[str]) -> Handler:
    """`handler` requiring `scopes` and those its function was marked with (`requires`)."""
    marked: tuple[str, ...] = getattr(handler.function, _SCOPES_ATTRIBUTE, ())
    return replace(handler, scopes=scope_names((*handler.scopes, *scope_names(scopes), *marked)))


def admit(handler: Handler, service: Service, ctx: Context) -> None:
    """Refuse a call whose account lacks one of the endpoint's scopes: 401 with no account, else 403."""
    if not handler.scopes:
        return
    account = ctx.account
    if account is None:
        raise unauthorized(service.name, f"{handler.name} needs an account with scope {', '.join(handler.scopes)}")
    if ADMIN_SCOPE in account.scopes:
        return
    missing = [scope for scope in handler.scopes if scope not in account.scopes]
    if missing:
        raise forbidden(service.name, f"account {account.name} lacks scope {', '.join(missing)} for {handler.name}")


def camel_case(name: str) -> str:
    """A Python method name as an endpoint's method: "say_hello" → "SayHello", "call" → "Call"."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def check_async(name: str, function: Callable[..., Any]) -> bool:
    """Whether `function` is an async generator function (a streaming endpoint); TypeError when it is not
    async at all."""
    if inspect.isasyncgenfunction(function):
        return True
    if inspect.iscoroutinefunction(function):
        return False
    raise TypeError(f"the handler of {name} must be an async function or an async generator function")


def json_handler(name: str, function: Callable[..., Any]) -> Handler:
    """The endpoint `name` ("Service.Method") served by a dict handler."""
    if not _NAME.match(name):
        raise ValueError(f"an endpoint is named Service.Method (e.g. Greeter.Hello), not {name!r}")
    streaming = check_async(name, function)
    parameters = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if not 1 <= len(parameters) <= 2:
        raise TypeError(f"the handler of {name} takes (request) or (request, ctx)")
    hints = typing.get_type_hints(function)
    request_schema = schema_of(hints.get(parameters[0].name))
    reply = hints.get("return")
    if streaming and typing.get_args(reply):
        # AsyncIterator[Reply] / AsyncGenerator[Reply, None]: each message is a Reply.
        reply = typing.get_args(reply)[0]
    service, method = name.split(".")
    checker = RequestChecker(request_schema) if request_schema != ANY_OBJECT else None
    return Handler(
        name=name, method=f"/{service}/{method}", codec="json", function=function,
        decode=lambda body: _decode_json(body, checker), encode=_encode_json, server_streaming=streaming,
        with_context=len(parameters) == 2, request_schema=json.dumps(request_schema),
        response_schema=json.dumps(schema_of(reply)),
    )


def _decode_json(body: bytes, checker: RequestChecker | None) -> dict[str, Any]:
    # An empty body is an empty request: `micro call svc Ep` with no JSON.
    try:
        value = json.loads(body) if body else {}
    except ValueError as exc:
        raise InvalidBody(f"malformed JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidBody("the request must be a JSON object")
    problem = checker.problem(value) if checker is not None else None
    if problem is not None:
        raise InvalidBody(f"invalid request: {problem}")
    return value


def _encode_json(reply: Any) -> bytes:
    if reply is None:
        return b"{}"
    if not isinstance(reply, dict):
        raise TypeError(f"a dict handler must return a dict, not {type(reply).__name__}")
    return json.dumps(reply, separators=(",", ":")).encode()


def method_handler(handler: Handler, service: Service) -> grpc.RpcMethodHandler:
    """The bytes-in, bytes-out gRPC handler serving `handler` for `service`."""
    if handler.server_streaming:
        return grpc.unary_stream_rpc_method_handler(_streaming(handler, service))
    return grpc.unary_unary_rpc_method_handler(_unary(handler, service))


def _unary(handler: Handler, service: Service) -> Callable[[bytes, grpc.aio.ServicerContext], Any]:
    async def serve(body: bytes, grpc_context: grpc.aio.ServicerContext) -> bytes:
        try:
            ctx = Context(grpc_context, service, handler.name)
            admit(handler, service, ctx)
            return handler.encode(await handler.invoke(decoded(handler, service, body), ctx))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a Micro error for the caller
            await _fail(grpc_context, exc, service, handler)

    return serve


def _streaming(handler: Handler, service: Service) -> Callable[[bytes, grpc.aio.ServicerContext], Any]:
    async def serve(body: bytes, grpc_context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        try:
            ctx = Context(grpc_context, service, handler.name)
            admit(handler, service, ctx)
            async for message in handler.invoke(decoded(handler, service, body), ctx):
                yield handler.encode(message)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a Micro error for the caller
            await _fail(grpc_context, exc, service, handler)

    return serve


def decoded(handler: Handler, service: Service, body: bytes) -> Any:
    """The request object of a call's body; BadRequest when it does not decode."""
    try:
        return handler.decode(body)
    except InvalidBody as exc:
        raise bad_request(service.name, str(exc)) from None


def as_error(exc: Exception, service: Service, endpoint: str) -> MicroError:
    """The Micro error a failed call answers with: `exc` itself, or (logged with its traceback) INTERNAL."""
    if isinstance(exc, MicroError):
        return exc
    _log.error("%s: %s raised", service.name, endpoint, exc_info=exc)
    return internal(service.name, str(exc) or type(exc).__name__)


def error_status(error: MicroError) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """The status, details and trailing metadata a call failing with `error` ends with."""
    body = error.to_json()  # ASCII (json escapes the rest), as text metadata values must be
    return error.grpc_status, body, ((ERROR_KEY, body),)


async def _fail(grpc_context: grpc.aio.ServicerContext, exc: Exception, service: Service,
                handler: Handler) -> NoReturn:
    """End the call with the Micro error `exc` is, or stands for."""
    if isinstance(exc, grpc.aio.AbortError):
        raise exc  # the handler already ended the call, through its context
    code, details, trailing = error_status(as_error(exc, service, handler.name))
    await grpc_context.abort(code, details, trailing_metadata=trailing)
    raise AssertionError("grpc's abort returns only by raising")
