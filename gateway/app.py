"""The HTTP/JSON gateway: an aiohttp application in front of a `Backend`.

- `POST|GET /{service}/{...}` calls an endpoint (`routes` names it, `catalog` finds its codec): the JSON
  body, or the query parameters (or a form body) when there is none, becomes the request; the reply is
  JSON. A server-streaming endpoint, or any endpoint asked with `Accept: text/event-stream`, answers
  with server-sent events: `data: <json>` per reply, and `event: error` with Micro's error body if the
  call fails once the stream has started.
  A reply of a streaming endpoint that has no JSON form (a protobuf reply that does not parse) is
  skipped with a warning that counts them, and the stream goes on.
- With a backend that has a node behind it (`PubsubBackend`), `POST /publish/{topic}` publishes its JSON
  body (as compact JSON) and answers `{"nodes": N}`; request headers `Micro-Header-{name}` become the
  message's headers (names lower-cased). `GET /subscribe/{topic}?group=G` is a server-sent event stream
  of the messages, one `data: {"topic", "headers", "publisher", "published_at", "data"}` event each (as
  `micro subscribe` prints them; `data_base64` instead of `data` for a payload that is not JSON a client
  can read back), and a `: heartbeat` comment after `heartbeat` seconds without one, so a client that
  left is noticed and its subscription removed. These two paths shadow services named `publish` and
  `subscribe`; another method on them is 405 with the `Allow` header.
- `GET /` is `{"version": ...}`, `GET /services` the registry by service, `GET /openapi.json` the
  OpenAPI 3.1 document of it.
- Every request but `GET /` and preflights is for the bearer token of its `Authorization` header, or for
  the public without one (`credential`): no cookie or other header authorises anything. The backend
  checks it against the mesh's rules (`Backend.authorize`) before anything else: before the path is
  looked up in the registry (so a caller not let at a path gets 401 or 403 whether or not the service
  exists, never 404), and before the body is read. The resource is `service:S:E` for a call (`E` as the
  path spells it: a rule names an endpoint exactly), `service:*` for the registry pages, `topic:T` for a
  publish or a subscription. A missing or invalid token is 401, a denial 403. A call's `micro-account-*`
  headers are dropped: the node that admits a call tells the service who makes it.
- Every error is Micro's error body (`errors`), whatever answers: a handler, or the server for a request
  aiohttp refuses before any handler sees it (`server`). A body is strict JSON (`transcode.parse_json`):
  anything else, nested too deeply or with numbers out of range included, is 400. Headers that become
  call metadata or message headers must be UTF-8. A body over `max_body` bytes is 413. A call gets the
  deadline the request asks for in a `Timeout` or `Micro-Timeout` header (seconds), at most `timeout`,
  which is also the default; a call that runs past it is 504. Headers named `Micro-*` pass to the
  service as call metadata (lower-cased). Cross-origin reads are allowed to the configured origins only
  (`cors`: none by default), and `OPTIONS` answers their preflights. When the application shuts down, open event streams end at once with an UNAVAILABLE
  error event instead of holding the shutdown.

Requests are not logged (a gateway under load would spend its time logging); failures the gateway did not
expect are logged, one record each (`logs`), in the log of the node behind the backend when it has one
(`LoggingBackend`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing
from importlib import metadata
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from aiohttp import web

from ..node.api.bearer import bearer
from ..node.api.calllink import ACCOUNT_PREFIX
from ..node.api.errors import InvalidArgument, Unauthenticated
from ..node.api.limits import MAX_BODY
from ..node.api.micro_errors import MicroError
from ..node.api.proto import node_pb2
from ..node.api.subjects import check_pattern, check_topic
from ..sdk.pubsub import Message, encode
from .backend import Backend, LoggingBackend, PubsubBackend
from .catalog import Catalog, Route
from .cors import PREFLIGHT, Cors
from .errors import JSON, error_body, error_response, gateway_error, http_error, refusal_response
from .logs import Log, PythonLog, failure_fields
from .openapi import openapi_document
from .routes import endpoint_path, resolve
from .server import Runner
from .transcode import Codec, params_object, parse_json

__all__ = ["create_app", "serve"]

_EVENTS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
_TIMEOUT_HEADERS = ("Timeout", "Micro-Timeout")
_METADATA_PREFIX = "micro-"
_HEADER_PREFIX = "micro-header-"
_HEARTBEAT = b": heartbeat\n\n"
_FORM = "application/x-www-form-urlencoded"
_REGISTRY = "service:*"
"""The resource of the registry pages: any account may read them under the default rules."""
_SHUTDOWN_GRACE = 2.0

_T = TypeVar("_T")


def create_app(
    backend: Backend,
    *,
    max_body: int = MAX_BODY,
    timeout: float = 30.0,
    version: str | None = None,
    catalog_ttl: float = 5.0,
    heartbeat: float = 15.0,
    cors_origins: Iterable[str] = (),
) -> web.Application:
    """The gateway application over `backend`: bodies up to `max_body` bytes, calls up to `timeout` s,
    a heartbeat on an idle subscription every `heartbeat` s, answers readable by pages of `cors_origins`
    (`https://app.example.com`; ValueError for what is not an origin)."""
    catalog = Catalog(backend, catalog_ttl)
    cors = Cors(cors_origins)
    gateway = _Gateway(backend, catalog, max_body, timeout, version or _version(), heartbeat, _log(backend), cors)
    app = web.Application(client_max_size=max_body)
    if cors.origins:  # with none, nothing runs per response
        app.on_response_prepare.append(cors.on_prepare)
    gateway.add(app, "GET", "/", gateway.index)
    if isinstance(backend, PubsubBackend):
        gateway.add_only(app, "POST", "/publish/{topic}", functools.partial(gateway.publish, backend))
        gateway.add_only(app, "GET", "/subscribe/{topic}", functools.partial(gateway.subscribe, backend))
    gateway.add(app, "GET", "/services", gateway.services)
    gateway.add(app, "GET", "/openapi.json", gateway.openapi)
    gateway.add(app, "OPTIONS", "/{path:.*}", gateway.preflight)
    gateway.add(app, "*", "/{path:.*}", gateway.call)
    app.on_shutdown.append(gateway.stop_streams)
    return app


async def serve(backend: Backend, host: str, port: int, **options: Any) -> web.AppRunner:
    """Start serving `create_app(backend, **options)` on host:port; stop with `await runner.cleanup()`,
    which gives requests in flight (server-sent event streams among them) `_SHUTDOWN_GRACE` seconds."""
    runner = Runner(
        create_app(backend, **options),
        _log(backend),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=_SHUTDOWN_GRACE,
    )
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Writer = Callable[[web.StreamResponse], Awaitable[None]]


def _log(backend: Backend) -> Log:
    """The node's log when the backend has a node behind it, else Python's logging."""
    return backend.log if isinstance(backend, LoggingBackend) else PythonLog()


class _Gateway:
    def __init__(
        self,
        backend: Backend,
        catalog: Catalog,
        max_body: int,
        timeout: float,
        version: str,
        heartbeat: float,
        log: Log,
        cors: Cors,
    ) -> None:
        self._backend = backend
        self._catalog = catalog
        self._max_body = max_body
        self._timeout = timeout
        self._version = version
        self._heartbeat = heartbeat
        self._log = log
        self._cors = cors
        self._streams: set[asyncio.Timeout] = set()  # the deadlines of the open event streams
        self._stopping = False
        self._skipped = 0  # replies of streaming endpoints skipped for having no JSON form

    def answering(self, handler: _Handler) -> _Handler:
        """`handler`, with whatever it raises answered by Micro's error body. A wrapper per route rather
        than a middleware: aiohttp runs an application's middlewares through a chain of its own (and one
        more of its own) on every request, about 6 µs a call."""

        async def answered(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except MicroError as error:
                return error_response(error)
            except web.HTTPException as exc:  # aiohttp's own refusals, raised by the request's methods
                if exc.status < 400:
                    raise
                return refusal_response(exc)
            except Exception as exc:  # noqa: BLE001 - whatever broke, the client gets Micro's error body
                return error_response(self._unexpected(request, exc))

        return answered

    def add(self, app: web.Application, method: str, path: str, handler: _Handler) -> None:
        """Route `method` on `path` to `handler`, answering its failures (`answering`)."""
        app.router.add_route(method, path, self.answering(handler))

    def add_only(self, app: web.Application, method: str, path: str, handler: _Handler) -> None:
        """Route `method` on `path` to `handler`, preflights to `preflight`, and any other method to 405
        (the call route, which takes every path, would take them otherwise)."""
        self.add(app, method, path, handler)
        self.add(app, "OPTIONS", path, self.preflight)
        self.add(app, "*", path, functools.partial(_not_allowed, method))

    async def index(self, request: web.Request) -> web.Response:
        return _json({"version": self._version})

    async def preflight(self, request: web.Request) -> web.Response:
        return web.Response(status=204, headers=PREFLIGHT if self._cors.allowed(request) else None)

    async def _authorize(self, request: web.Request, resource: str) -> node_pb2.Credential:
        """The request's credential, once the backend has let it at `resource` (it raises otherwise)."""
        asking = credential(request.headers)
        await self._backend.authorize(asking, resource)
        return asking

    async def services(self, request: web.Request) -> web.StreamResponse:
        await self._authorize(request, _REGISTRY)
        return _json({"services": _by_service(await self._backend.services())})

    async def openapi(self, request: web.Request) -> web.StreamResponse:
        await self._authorize(request, _REGISTRY)
        names = sorted({instance.service for instance in await self._backend.services()})
        entries = []
        for described in await asyncio.gather(*map(self._catalog.entry, names), return_exceptions=True):
            if isinstance(described, MicroError):
                continue  # a service that left between the listing and its description is not in it
            if isinstance(described, BaseException):
                raise described
            entries.append(described)
        return _json(openapi_document(entries, self._version))

    async def call(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            return await _not_allowed("GET, POST", request)
        named = resolve(request.path)
        if named is None:
            raise gateway_error("NOT_FOUND", "the path names no service")
        asking = await self._authorize(request, f"service:{named[0]}:{named[1]}")
        route = await self._catalog.route(*named)
        codec = route.codec
        assert codec is not None  # the catalog routes only to endpoints that have one
        timeout = self._deadline(request)
        call = node_pb2.CallRequest(
            service=route.service,
            endpoint=route.endpoint.name,
            body=await self._body(request, codec),
            metadata=_metadata(request.headers),
            timeout_s=timeout,
            credential=asking,
        )
        if route.endpoint.server_streaming or "text/event-stream" in request.headers.get("Accept", ""):
            write = functools.partial(self._write_replies, route=route, codec=codec, call=call)
            return await self._events(request, write, timeout, functools.partial(_late, route, timeout))
        try:
            async with asyncio.timeout(timeout):
                reply = await self._backend.call(call, timeout)
        except TimeoutError:
            raise _late(route, timeout) from None
        return web.Response(body=codec.decode(reply.body), headers=JSON)

    def _deadline(self, request: web.Request) -> float:
        for header in _TIMEOUT_HEADERS:
            text = request.headers.get(header)
            if text is not None:
                try:
                    asked = float(text)
                except ValueError:
                    asked = math.nan
                if not asked > 0:
                    raise gateway_error("INVALID_ARGUMENT", f"{header} must be a positive number of seconds")
                return min(asked, self._timeout)
        return self._timeout

    async def _read(self, request: web.Request) -> bytes:
        """The request's body (empty without one); over `max_body` bytes it is 413."""
        length = request.content_length
        if length is not None and length > self._max_body:
            raise _too_large(self._max_body)
        if not request.body_exists:
            return b""
        try:
            return await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(self._max_body) from None
        except web.RequestPayloadError:
            detail = "the request body does not decode by its Content-Encoding or chunked framing"
            raise gateway_error("INVALID_ARGUMENT", detail) from None
        except ConnectionResetError:
            raise gateway_error("CANCELLED", "the client left before its body arrived") from None

    async def _body(self, request: web.Request, codec: Codec) -> bytes:
        """The call body for the request's JSON body, or its query or form parameters."""
        raw = await self._read(request)
        if not raw:
            return codec.encode(params_object(request.query.items(), codec.request_schema), None)
        # `curl -d '{...}'` labels a JSON body as a form: a body that opens like a JSON object is JSON.
        if request.content_type == _FORM and not raw.lstrip().startswith(b"{"):
            params = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
            return codec.encode(params_object(params, codec.request_schema), None)
        return codec.encode(parse_json(raw), raw)

    async def _events(
        self, request: web.Request, write: _Writer, timeout: float | None, late: Callable[[], MicroError] | None
    ) -> web.StreamResponse:
        """An event stream of what `write` writes, for at most `timeout` s (then the error `late` makes)."""
        response = web.StreamResponse(headers=_EVENTS)
        await response.prepare(request)
        try:
            failure = await self._relay(request, response, write, timeout, late)
            if failure is not None:
                await response.write(_event(json.dumps(error_body(failure)).encode(), "error"))
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client left; `_relay` has cancelled the call on its way out
        return response

    async def _relay(
        self,
        request: web.Request,
        response: web.StreamResponse,
        write: _Writer,
        timeout: float | None,
        late: Callable[[], MicroError] | None,
    ) -> MicroError | None:
        """Write the events; the error that ended them, if one did."""
        try:
            async with asyncio.timeout(timeout) as deadline:
                self._streams.add(deadline)
                try:
                    await write(response)
                finally:
                    self._streams.discard(deadline)
        except TimeoutError:
            if self._stopping or late is None:
                return gateway_error("UNAVAILABLE", "the gateway is stopping")
            return late()
        except MicroError as error:
            return error
        except ConnectionResetError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever broke, the stream ends with an error event
            return self._unexpected(request, exc)
        return None

    async def _write_replies(
        self, response: web.StreamResponse, route: Route, codec: Codec, call: node_pb2.CallRequest
    ) -> None:
        if route.endpoint.server_streaming:
            async with aclosing(self._backend.call_stream(call, call.timeout_s)) as replies:
                async for reply in replies:
                    try:
                        shown = codec.decode(reply.body)
                    except MicroError as error:  # one bad reply does not end the stream
                        self._skip(route, error)
                        continue
                    await response.write(_event(shown))
        else:
            reply = await self._backend.call(call, call.timeout_s)
            await response.write(_event(codec.decode(reply.body)))

    async def publish(self, pubsub: PubsubBackend, request: web.Request) -> web.StreamResponse:
        asking = await self._authorize(request, f"topic:{request.match_info['topic']}")
        topic = _valid(check_topic, request.match_info["topic"])
        raw = await self._read(request)
        if not raw.strip():
            raise gateway_error("INVALID_ARGUMENT", "a publish needs a body: the message, as JSON")
        body = parse_json(raw)
        message = node_pb2.PublishRequest(topic=topic, data=encode(body), headers=_message_headers(request.headers),
                                          credential=asking)
        reply = await pubsub.publish(message)
        return _json({"nodes": reply.nodes})

    async def subscribe(self, pubsub: PubsubBackend, request: web.Request) -> web.StreamResponse:
        asking = await self._authorize(request, f"topic:{request.match_info['topic']}")
        topic = _valid(check_pattern, request.match_info["topic"])
        subscription = node_pb2.SubscribeRequest(topic=topic, group=request.query.get("group", ""),
                                                 credential=asking)
        # Registered before the response starts: a client that has the headers misses nothing later.
        async with aclosing(await pubsub.subscribe(subscription)) as batches:
            write = functools.partial(self._write_messages, batches=batches)
            return await self._events(request, write, None, None)

    async def _write_messages(
        self, response: web.StreamResponse, batches: AsyncIterator[node_pb2.PubsubBatch]
    ) -> None:
        async with aclosing(_beating(batches, self._heartbeat)) as beats:
            async for batch in beats:
                if batch is None:
                    await response.write(_HEARTBEAT)  # fails once the client has gone, which ends this
                    continue
                await response.write(b"".join(_event(_message_json(m)) for m in batch.messages))

    def _skip(self, route: Route, error: MicroError) -> None:
        self._skipped += 1
        self._log.warning(
            "gateway.reply_skipped",
            service=route.service,
            endpoint=route.endpoint.name,
            error=error.detail,
            skipped=self._skipped,
        )

    def _unexpected(self, request: web.Request, exc: Exception) -> MicroError:
        """The error for a failure the gateway did not expect, logged as one record."""
        self._log.error("gateway.failed", method=request.method, path=request.path, **failure_fields(exc))
        return gateway_error("INTERNAL", "the gateway failed to handle the request")

    async def stop_streams(self, app: web.Application) -> None:
        """End every open event stream now (with an UNAVAILABLE error event), so stopping is prompt."""
        self._stopping = True
        now = asyncio.get_running_loop().time()
        for deadline in self._streams:
            deadline.reschedule(now)


def _event(data: bytes, kind: str | None = None) -> bytes:
    """One server-sent event. JSON may hold line breaks only as whitespace, so each line becomes one
    `data:` line and the client, which joins them with newlines, reads the same JSON."""
    head = f"event: {kind}\n".encode() if kind else b""
    return head + b"".join(b"data: " + line + b"\n" for line in data.splitlines()) + b"\n"


async def _beating(source: AsyncIterator[_T], interval: float) -> AsyncGenerator[_T | None, None]:
    """The items of `source`, and None whenever `interval` seconds pass without one. The read in progress
    is kept across the pauses (cancelling it would end an async generator) and cancelled at the end."""
    reading: asyncio.Future[_T] | None = None
    try:
        while True:
            if reading is None:
                reading = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({reading}, timeout=interval)
            if not done:
                yield None
                continue
            try:
                item = reading.result()
            except StopAsyncIteration:
                return
            reading = None
            yield item
    finally:
        if reading is not None:
            reading.cancel()
            await asyncio.wait({reading})  # the source is idle again before anyone closes it


def _valid(check: Callable[[str], str], topic: str) -> str:
    try:
        return check(topic)
    except InvalidArgument as exc:
        raise gateway_error("INVALID_ARGUMENT", str(exc)) from None


def _message_json(message: node_pb2.PubsubMessage) -> bytes:
    """A message as its event's JSON, as `micro subscribe` prints it (`data_base64` for a payload that is
    not strict JSON: see `Message.to_object`)."""
    return json.dumps(Message.from_proto(message).to_object()).encode()


def _message_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = ((key.lower(), value) for key, value in headers.items())
    return {
        key[len(_HEADER_PREFIX):]: _utf8(key, value) for key, value in lowered if key.startswith(_HEADER_PREFIX)
    }


def _utf8(name: str, value: str) -> str:
    """A header's value, if it is UTF-8 (aiohttp keeps other bytes as lone surrogates, which protobuf
    strings refuse)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise gateway_error("INVALID_ARGUMENT", f"the {name} header is not UTF-8") from None
    return value


async def _not_allowed(allowed: str, request: web.Request) -> web.Response:
    """405, naming the methods the path takes in `Allow`."""
    error = http_error(405, f"method {request.method} not allowed here; use {allowed}")
    return error_response(error, {"Allow": allowed})


def _late(route: Route, timeout: float) -> MicroError:
    return gateway_error(
        "DEADLINE_EXCEEDED", f"{route.service} {route.endpoint.name} did not answer within {timeout:g} s"
    )


def _too_large(limit: int) -> MicroError:
    return http_error(413, f"the request body is over the limit of {limit} bytes")


def credential(headers: Mapping[str, str]) -> node_pb2.Credential:
    """For whom the gateway asks: the bearer token of the `Authorization` header, else the public. Only
    that header counts: no cookie or other ambient credential authorises anything."""
    try:
        token = bearer(headers.get("Authorization"))
    except Unauthenticated:
        raise gateway_error("UNAUTHENTICATED", "the Authorization header is not `Bearer TOKEN`") from None
    return node_pb2.Credential(anonymous=True) if token is None else node_pb2.Credential(token=token)


def _metadata(headers: Mapping[str, str]) -> dict[str, str]:
    lowered = ((key.lower(), value) for key, value in headers.items())
    return {
        key: _utf8(key, value)
        for key, value in lowered
        if key.startswith(_METADATA_PREFIX) and key != "micro-timeout" and not key.startswith(ACCOUNT_PREFIX)
    }


def _json(value: Any) -> web.Response:
    return web.Response(body=json.dumps(value, separators=(",", ":")).encode(), headers=JSON)


def _by_service(instances: list[node_pb2.ServiceInstance]) -> list[dict[str, Any]]:
    """The registry by service: versions, endpoints (the union over instances) and instances."""
    grouped: dict[str, list[node_pb2.ServiceInstance]] = {}
    for instance in instances:
        grouped.setdefault(instance.service, []).append(instance)
    services = []
    for name, members in sorted(grouped.items()):
        endpoints: dict[str, node_pb2.Endpoint] = {}
        for instance in members:
            for endpoint in instance.endpoints:
                endpoints.setdefault(endpoint.name, endpoint)
        services.append(
            {
                "name": name,
                "versions": sorted({instance.version for instance in members}),
                "endpoints": [
                    {
                        "name": endpoint.name,
                        "path": endpoint_path(name, endpoint.name),
                        "codec": endpoint.codec,
                        "server_streaming": endpoint.server_streaming,
                    }
                    for _, endpoint in sorted(endpoints.items())
                ],
                "instances": [
                    {
                        "id": i.id,
                        "version": i.version,
                        "address": i.address,
                        "node": i.node,
                        "metadata": dict(i.metadata),
                    }
                    for i in members
                ],
            }
        )
    return services


def _version() -> str:
    try:
        return metadata.version("micro-mesh")
    except metadata.PackageNotFoundError:
        return "unknown"
