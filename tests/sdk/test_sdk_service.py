"""Dict (JSON) endpoints of `micro.sdk.Service`, served by an instance started in-process and called with
grpc.aio the way a node calls it: naming, bodies, schemas, errors, streaming, and the handler's context."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import grpc
import pytest
from micro.sdk import Context, Service, errors
from node_harness import PATIENCE
from service_harness import call_json, micro_error, serving

pytestmark = pytest.mark.asyncio


class Address(TypedDict):
    city: str
    zip: int | None


class Profile(TypedDict, total=False):
    nickname: str


class SignupRequest(Profile):
    name: str
    age: int
    score: float
    admin: bool
    tags: list[str]
    address: Address
    extra: dict[str, int]


class Greeting(TypedDict):
    msg: str


@dataclass
class Query:
    text: str
    limit: int = 10
    fields: list[str] = field(default_factory=list)


class Greeter:
    async def hello(self, request: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"msg": "Hello " + request["name"]}

    async def say_hello(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"msg": "Hi " + request["name"]}

    async def count(self, request: dict[str, Any], ctx: Context) -> AsyncIterator[Greeting]:
        for n in range(request["count"]):
            yield {"msg": f"greeting {n}"}

    def helper(self) -> None:
        """Not async: not an endpoint."""

    async def _private(self, request: dict[str, Any]) -> dict[str, Any]:
        return {}


def _greeter() -> Service:
    service = Service("greeter")
    service.handle(Greeter())
    return service


def _one(handler: Any, name: str = "Test.Echo") -> Service:
    service = Service("test")
    service.endpoint(name)(handler)
    return service


async def test_handle_serves_public_async_methods_as_class_dot_camel_case() -> None:
    endpoints = {e.name: e for e in _greeter().endpoints}

    assert sorted(endpoints) == ["Greeter.Count", "Greeter.Hello", "Greeter.SayHello"]
    assert endpoints["Greeter.SayHello"].method == "/Greeter/SayHello"
    assert {e.codec for e in endpoints.values()} == {"json"}
    assert {n: e.server_streaming for n, e in endpoints.items()} == {
        "Greeter.Count": True, "Greeter.Hello": False, "Greeter.SayHello": False}


async def test_handle_takes_a_service_name_other_than_the_class_name() -> None:
    service = Service("greeter")
    service.handle(Greeter(), name="Hello")

    assert "Hello.SayHello" in {e.name for e in service.endpoints}


async def test_a_dict_handler_answers_json_on_its_service_method_path() -> None:
    async with serving(_greeter()) as channel:
        assert await call_json(channel, "/Greeter/Hello", {"name": "Alice"}) == {"msg": "Hello Alice"}
        assert await call_json(channel, "/Greeter/SayHello", {"name": "Bob"}) == {"msg": "Hi Bob"}


async def test_the_endpoint_decorator_serves_a_function_under_the_given_name() -> None:
    service = Service("test")

    @service.endpoint("Maths.Add")
    async def add(request: dict[str, Any]) -> dict[str, Any]:
        return {"sum": request["a"] + request["b"]}

    async with serving(service) as channel:
        assert await call_json(channel, "/Maths/Add", {"a": 2, "b": 3}) == {"sum": 5}


@pytest.mark.parametrize("name", ["Add", "maths.add.more", "Maths.", ".Add", "Ma ths.Add"])
async def test_an_endpoint_name_must_be_service_dot_method(name: str) -> None:
    async def add(request: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="Service.Method"):
        _one(add, name)


async def test_a_second_endpoint_with_the_same_name_is_refused() -> None:
    service = _greeter()

    async def hello(request: dict[str, Any]) -> dict[str, Any]:
        return {}

    with pytest.raises(ValueError, match="already has an endpoint Greeter.Hello"):
        service.endpoint("Greeter.Hello")(hello)


async def test_a_handler_that_is_not_async_is_refused() -> None:
    def echo(request: dict[str, Any]) -> dict[str, Any]:
        return request

    with pytest.raises(TypeError, match="async"):
        _one(echo)


async def test_endpoints_cannot_be_added_once_the_instance_serves() -> None:
    service = _greeter()

    async def late(request: dict[str, Any]) -> dict[str, Any]:
        return {}

    async with serving(service):
        with pytest.raises(RuntimeError, match="before the service starts"):
            service.endpoint("Greeter.Late")(late)


async def test_an_instance_starts_once() -> None:
    service = _greeter()

    async with serving(service):
        with pytest.raises(RuntimeError, match="already started"):
            await service.start()


async def test_a_service_without_endpoints_does_not_start() -> None:
    with pytest.raises(RuntimeError, match="no endpoints"):
        await Service("empty").start()


async def test_the_request_schema_comes_from_a_typeddict() -> None:
    async def signup(request: SignupRequest) -> Greeting:
        return {"msg": "ok"}

    endpoint = _one(signup).endpoints[0]

    assert json.loads(endpoint.request_schema) == {
        "type": "object",
        "properties": {
            "nickname": {"type": "string"},
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "score": {"type": "number"},
            "admin": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zip": {"type": ["integer", "null"]}},
                "required": ["city", "zip"],
            },
            "extra": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "required": ["name", "age", "score", "admin", "tags", "address", "extra"],
    }
    assert json.loads(endpoint.response_schema) == {
        "type": "object", "properties": {"msg": {"type": "string"}}, "required": ["msg"],
    }


async def test_a_dataclass_annotation_requires_the_fields_without_defaults() -> None:
    async def search(request: Query) -> dict[str, Any]:
        return {}

    assert json.loads(_one(search).endpoints[0].request_schema) == {
        "type": "object",
        "properties": {"text": {"type": "string"}, "limit": {"type": "integer"},
                       "fields": {"type": "array", "items": {"type": "string"}}},
        "required": ["text"],
    }


async def test_a_plain_dict_annotation_is_any_object() -> None:
    endpoint = _greeter().endpoints
    hello = next(e for e in endpoint if e.name == "Greeter.Hello")

    assert json.loads(hello.request_schema) == {"type": "object"}
    assert json.loads(hello.response_schema) == {"type": "object"}


async def test_a_streaming_endpoint_describes_each_message() -> None:
    count = next(e for e in _greeter().endpoints if e.name == "Greeter.Count")

    assert json.loads(count.response_schema)["properties"] == {"msg": {"type": "string"}}


async def test_a_field_of_the_wrong_type_is_invalid_argument_naming_the_field() -> None:
    async def signup(request: SignupRequest) -> Greeting:
        return {"msg": "ok"}

    request = {"name": "a", "age": 1, "score": 1.5, "admin": False, "tags": [],
               "address": {"city": "x", "zip": "not a number"}, "extra": {}}
    async with serving(_one(signup)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Test/Echo", request)

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = micro_error(failed.value)
    assert error["id"] == "test"
    assert error["code"] == 400
    assert "address.zip" in error["detail"]


async def test_a_missing_required_field_is_invalid_argument_naming_it() -> None:
    async def search(request: Query) -> dict[str, Any]:
        return {}

    async with serving(_one(search)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Test/Echo", {"limit": 3})

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'text' is a required property" in micro_error(failed.value)["detail"]


@pytest.mark.parametrize(("body", "detail"), [
    (b'{"name": ', "malformed JSON"),
    (b"\xff\xfe{}", "malformed JSON"),
    (b'["a", "b"]', "must be a JSON object"),
])
async def test_a_body_that_is_not_a_json_object_is_invalid_argument(body: bytes, detail: str) -> None:
    async with serving(_greeter()) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Greeter/Hello", body)

    assert failed.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert detail in micro_error(failed.value)["detail"]


async def test_an_empty_body_is_an_empty_request() -> None:
    async def echo(request: dict[str, Any]) -> dict[str, Any]:
        return {"got": request}

    async with serving(_one(echo)) as channel:
        assert await call_json(channel, "/Test/Echo", b"") == {"got": {}}


async def test_a_micro_error_answers_with_its_status_and_json_in_details_and_trailing_metadata() -> None:
    async def find(request: dict[str, Any]) -> dict[str, Any]:
        raise errors.not_found("blog.posts", f"no post {request['id']}")

    async with serving(_one(find)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Test/Echo", {"id": 7})

    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert micro_error(failed.value) == {"id": "blog.posts", "code": 404, "detail": "no post 7",
                                         "status": "NOT_FOUND"}


async def test_a_micro_error_reads_back_as_the_same_error_through_from_grpc() -> None:
    async def find(request: dict[str, Any]) -> dict[str, Any]:
        raise errors.MicroError("blog.posts", 422, "title too long", "INVALID_ARGUMENT")

    async with serving(_one(find)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Test/Echo", {})

    error = errors.from_grpc(failed.value, "someone.else")
    assert (type(error), error.id, error.code, error.detail) == (errors.BadRequest, "blog.posts", 422,
                                                                 "title too long")


async def test_an_unexpected_exception_is_internal_and_the_instance_keeps_serving(
        caplog: pytest.LogCaptureFixture) -> None:
    async def divide(request: dict[str, Any]) -> dict[str, Any]:
        return {"q": request["a"] / request["b"]}

    async with serving(_one(divide)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Test/Echo", {"a": 1, "b": 0})
        after = await call_json(channel, "/Test/Echo", {"a": 1, "b": 4})

    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert micro_error(failed.value) == {"id": "test", "code": 500, "detail": "division by zero",
                                         "status": "INTERNAL"}
    assert "Traceback" not in (failed.value.details() or "")
    assert [r.exc_info[0] for r in caplog.records if r.exc_info] == [ZeroDivisionError]
    assert after == {"q": 0.25}


async def test_a_reply_that_is_not_a_dict_is_internal() -> None:
    async def wrong(request: dict[str, Any]) -> Any:
        return ["not", "a", "dict"]

    async with serving(_one(wrong)) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call_json(channel, "/Test/Echo", {})

    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "must return a dict" in micro_error(failed.value)["detail"]


async def test_a_streaming_handler_sends_each_yielded_dict_as_one_message() -> None:
    async with serving(_greeter()) as channel:
        call = channel.unary_stream("/Greeter/Count")(json.dumps({"count": 3}).encode())
        messages = [json.loads(m) async for m in call]

    assert messages == [{"msg": "greeting 0"}, {"msg": "greeting 1"}, {"msg": "greeting 2"}]


async def test_an_error_in_a_stream_ends_it_after_the_messages_already_sent() -> None:
    async def numbers(request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        yield {"n": 1}
        raise errors.unavailable("test", "ran dry")

    async with serving(_one(numbers)) as channel:
        call = channel.unary_stream("/Test/Echo")(b"{}")
        received = [json.loads(await call.read())]
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call.read()

    assert received == [{"n": 1}]
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert micro_error(failed.value)["detail"] == "ran dry"


async def _context_of(**options: Any) -> dict[str, Any]:
    """What a handler saw in its context when called with these call options."""
    seen: dict[str, Any] = {}

    async def look(request: dict[str, Any], ctx: Context) -> dict[str, Any]:
        seen.update(metadata=ctx.metadata, deadline=ctx.deadline, caller=ctx.caller, service=ctx.service,
                    endpoint=ctx.endpoint)
        return {}

    service = _one(look)
    async with serving(service) as channel:
        await call_json(channel, "/Test/Echo", {}, **options)
    seen["the_service"] = service
    return seen


async def test_ctx_deadline_is_the_time_left_before_the_callers_deadline() -> None:
    seen = await _context_of(timeout=2 * PATIENCE)

    assert PATIENCE < seen["deadline"] <= 2 * PATIENCE + 0.1  # what was left of it when the handler started


async def test_ctx_deadline_is_none_when_the_caller_set_none() -> None:
    assert (await _context_of())["deadline"] is None


async def test_ctx_metadata_holds_the_calls_metadata_and_caller_the_calling_node() -> None:
    seen = await _context_of(metadata=(("x-request-id", "r1"), ("micro-caller", "Nabc")))

    assert seen["metadata"]["x-request-id"] == "r1"
    assert seen["caller"] == "Nabc"


async def test_ctx_caller_is_empty_when_no_node_named_one() -> None:
    assert (await _context_of())["caller"] == ""


async def test_ctx_service_is_the_serving_service_and_endpoint_the_one_called() -> None:
    seen = await _context_of()

    assert seen["service"] is seen["the_service"]
    assert seen["endpoint"] == "Test.Echo"


async def test_the_service_kv_is_a_database_named_after_the_service() -> None:
    service = Service("blog-posts")

    assert (service.kv.db, service.kv.table) == ("blog-posts", "default")


async def test_a_wildcard_bind_is_registered_on_loopback() -> None:
    service = Service("greeter", address="0.0.0.0:0")
    service.handle(Greeter())
    async with serving(service) as channel:
        assert service.address.startswith("127.0.0.1:")
        assert await call_json(channel, "/Greeter/Hello", {"name": "a"}) == {"msg": "Hello a"}
