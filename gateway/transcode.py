"""JSON in, the endpoint's wire format out, and back: by the registered schemas and descriptors.

Each endpoint gets a codec when its service is described (`catalog`), never per request:
- `JsonCodec` (endpoints with codec "json", the SDK's dict handlers): the request is validated against
  the endpoint's JSON Schema and its JSON bytes pass through unchanged, as do the reply's.
- `ProtoCodec` (codec "proto"): message classes are built from the service's FileDescriptorSet with a
  descriptor pool of its own (no generated code on the gateway); the request object becomes the message
  through the proto3 JSON mapping, and the reply goes back to JSON with the proto field names.

Requests arrive as JSON bodies, strict JSON (`parse_json`: no NaN, no number out of range, no name twice
in an object, no nesting past the parser's depth), or as query parameters (and form bodies), which
`params_object` types by the request schema: `?n=3&tag=a&tag=b` is `{"n": 3, "tag": ["a", "b"]}` for an
integer `n` and an array `tag`. A request that does not fit is an INVALID_ARGUMENT error naming the
field; whatever a client's input makes the decoders raise is INVALID_ARGUMENT too (`refused`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Protocol

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from ..node.api.micro_errors import MicroError, internal
from ..node.api.strict_json import loads, number
from .errors import gateway_error
from .schema import message_schemas

__all__ = [
    "REFUSED",
    "Codec",
    "JsonCodec",
    "ProtoCodec",
    "load_descriptors",
    "loads",
    "params_object",
    "parse_json",
    "refused",
]

_ANY_OBJECT: dict[str, Any] = {"type": "object"}
_NOT_AN_OBJECT = "invalid request: the request must be a JSON object"


class Codec(Protocol):
    request_schema: dict[str, Any]
    """JSON Schema of the request object; a proto message's refers to `definitions` by `$ref`."""
    response_schema: dict[str, Any]
    definitions: dict[str, dict[str, Any]]
    """The schemas of the messages a proto request or reply reaches, by full name (JSON codecs: none)."""

    def encode(self, request: Any, raw: bytes | None) -> bytes:
        """The call body for a request object; `raw` is the JSON it was parsed from, when it was."""
        ...

    def decode(self, body: bytes) -> bytes:
        """The JSON bytes for a reply body."""
        ...


def parse_json(raw: bytes) -> Any:
    """A request body as strict JSON (`loads`); anything else is INVALID_ARGUMENT."""
    try:
        return loads(raw.decode("utf-8"))
    except REFUSED as exc:
        raise refused("malformed JSON body", exc) from None


REFUSED = (ValueError, TypeError, OverflowError, RecursionError, json_format.ParseError)
"""What a client's input makes the decoders raise: the json module ValueError (UnicodeDecodeError among
them), protobuf's json_format its ParseError, RecursionError on deep nesting, and TypeError or
OverflowError on values it cannot convert (an integer too large for a double field)."""


def refused(what: str, exc: BaseException) -> MicroError:
    """One of `REFUSED`, raised while decoding a client's input, as INVALID_ARGUMENT saying `what` failed."""
    if isinstance(exc, RecursionError):
        return gateway_error("INVALID_ARGUMENT", f"{what}: nested too deeply")
    return gateway_error("INVALID_ARGUMENT", f"{what}: {' '.join(str(exc).split())}")


class JsonCodec:
    """Codec "json": validate the request against its schema, pass the bytes through both ways."""

    def __init__(self, service: str, request_schema: str, response_schema: str) -> None:
        self.request_schema = _schema_of(service, request_schema)
        self.response_schema = _schema_of(service, response_schema)
        self.definitions: dict[str, dict[str, Any]] = {}
        # Most dict handlers take any object: a type check then does what the validator would, faster.
        self._validator = (
            None if self.request_schema == _ANY_OBJECT else Draft202012Validator(self.request_schema)
        )

    def encode(self, request: Any, raw: bytes | None) -> bytes:
        if self._validator is None:
            if not isinstance(request, dict):
                raise gateway_error("INVALID_ARGUMENT", _NOT_AN_OBJECT)
        else:
            try:
                error = best_match(self._validator.iter_errors(request))
            except RecursionError:  # a recursive schema recurses as deep as the request goes
                raise gateway_error("INVALID_ARGUMENT", "invalid request: nested too deeply") from None
            if error is not None:
                raise gateway_error("INVALID_ARGUMENT", _describe(error))
        return raw if raw is not None else json.dumps(request, separators=(",", ":")).encode()

    def decode(self, body: bytes) -> bytes:
        return body


class ProtoCodec:
    """Codec "proto": JSON to the request message and the reply message to JSON, by descriptors."""

    def __init__(
        self, service: str, pool: descriptor_pool.DescriptorPool, request_type: str, response_type: str
    ) -> None:
        self._service = service
        try:
            request = pool.FindMessageTypeByName(request_type)
            response = pool.FindMessageTypeByName(response_type)
        except KeyError as exc:
            raise internal(service, f"message type not in the registered descriptors: {exc}") from None
        self._request = message_factory.GetMessageClass(request)
        self._response = message_factory.GetMessageClass(response)
        self.definitions = message_schemas(response, message_schemas(request))
        self.request_schema = self.definitions[request.full_name]
        self.response_schema = self.definitions[response.full_name]

    def encode(self, request: Any, raw: bytes | None) -> bytes:
        if not isinstance(request, dict):
            raise gateway_error("INVALID_ARGUMENT", _NOT_AN_OBJECT)
        message: Message = self._request()
        try:
            json_format.ParseDict(request, message)
        except REFUSED as exc:
            raise refused("invalid request", exc) from None
        return message.SerializeToString()

    def decode(self, body: bytes) -> bytes:
        name = self._response.DESCRIPTOR.full_name
        try:
            message = self._response.FromString(body)
        except DecodeError as exc:  # nesting past protobuf's depth limit among the causes
            raise internal(self._service, f"the reply is not a {name}: {exc}") from None
        try:
            fields = json_format.MessageToDict(
                message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
            )
        except json_format.SerializeToJsonError as exc:  # a Timestamp or Duration out of range
            raise internal(self._service, f"the reply {name} has no JSON form: {exc}") from None
        return json.dumps(fields, separators=(",", ":")).encode()


def load_descriptors(descriptor_set: bytes) -> descriptor_pool.DescriptorPool:
    """A pool holding every file of a serialized FileDescriptorSet; INTERNAL if the set is unusable.

    Files are added dependencies first, whatever their order in the set; a dependency the set leaves out
    (a well-known type such as google/protobuf/timestamp.proto) is taken from the default pool.
    """
    try:
        files = {
            proto.name: proto for proto in descriptor_pb2.FileDescriptorSet.FromString(descriptor_set).file
        }
    except DecodeError as exc:
        raise gateway_error("INTERNAL", f"the registered descriptor set does not parse: {exc}") from None
    if not files:
        raise gateway_error("INTERNAL", "the service registered no protobuf descriptors")
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()

    def add(name: str, trail: frozenset[str]) -> None:
        if name in added or name in trail:
            return
        proto = files.get(name) or _default_file(name)
        for dependency in proto.dependency:
            add(dependency, trail | {name})
        try:
            pool.Add(proto)
        except (TypeError, ValueError) as exc:
            raise gateway_error("INTERNAL", f"the registered descriptor {name} is unusable: {exc}") from None
        added.add(name)

    for name in files:
        add(name, frozenset())
    return pool


def params_object(params: Iterable[tuple[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
    """Query or form parameters as a request object, each value typed by the schema's property for it."""
    values: dict[str, list[str]] = {}
    for key, value in params:
        values.setdefault(key, []).append(value)
    properties = schema.get("properties", {})
    result: dict[str, Any] = {}
    for key, given in values.items():
        prop = properties.get(key, {})
        if "array" in _types(prop):
            item = prop.get("items", {})
            result[key] = [_typed(value, item) for value in given]
        else:
            result[key] = _typed(given[-1], prop)
    return result


def _typed(value: str, schema: dict[str, Any]) -> Any:
    """A parameter's text as the schema's type; text that does not parse stays text for validation to name."""
    types = _types(schema)
    try:
        if "integer" in types:
            return int(value)
        if "number" in types:
            return number(value)
        if "boolean" in types:
            return {"true": True, "1": True, "": True, "false": False, "0": False}[value.lower()]
        if "object" in types or "$ref" in schema:
            return loads(value)
    except (ValueError, KeyError, RecursionError):
        return value
    return value


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", ())
    return {kind} if isinstance(kind, str) else set(kind)


def _schema_of(service: str, text: str) -> dict[str, Any]:
    if not text:
        return _ANY_OBJECT
    try:
        schema = json.loads(text)
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # noqa: BLE001 - a bad registration is the service's error, whatever broke
        raise internal(service, f"the registered JSON schema is invalid: {exc}") from None
    return schema if isinstance(schema, dict) else _ANY_OBJECT


def _describe(error: ValidationError) -> str:
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    if not path:
        return f"invalid request: {error.message}"
    return f"invalid field {path.lstrip('.')}: {error.message}"


def _default_file(name: str) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    try:
        descriptor_pool.Default().FindFileByName(name).CopyToProto(proto)
    except KeyError:
        raise gateway_error("INTERNAL", f"descriptor set lacks {name}") from None
    return proto
