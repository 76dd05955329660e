"""JSON Schema (draft 2020-12) of protobuf messages, as the proto3 JSON mapping reads and writes them.

A message is an object of its fields by their proto names; a nested message is a `$ref` to
`#/components/schemas/<full name>`, so recursive messages stay finite and the OpenAPI document can list
every message once under `components.schemas`. 64-bit integers are strings in proto JSON (and accepted as
numbers), enums their value names, bytes base64, and the well-known types have their special JSON forms.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

__all__ = ["REF_PREFIX", "message_schemas"]

REF_PREFIX = "#/components/schemas/"

_INT64 = {"type": ["string", "integer"], "format": "int64"}
_UINT64 = {"type": ["string", "integer"], "format": "uint64", "minimum": 0}
_INT32 = {"type": "integer", "format": "int32"}
_UINT32 = {"type": "integer", "format": "uint32", "minimum": 0}
_BYTES = {"type": "string", "contentEncoding": "base64"}

_SCALARS: dict[int, dict[str, Any]] = {
    FieldDescriptor.TYPE_DOUBLE: {"type": "number"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number"},
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_SINT64: _INT64,
    FieldDescriptor.TYPE_SFIXED64: _INT64,
    FieldDescriptor.TYPE_UINT64: _UINT64,
    FieldDescriptor.TYPE_FIXED64: _UINT64,
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_SINT32: _INT32,
    FieldDescriptor.TYPE_SFIXED32: _INT32,
    FieldDescriptor.TYPE_UINT32: _UINT32,
    FieldDescriptor.TYPE_FIXED32: _UINT32,
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: _BYTES,
}

# Well-known types whose JSON form is not an object of their fields.
_WELL_KNOWN: dict[str, dict[str, Any]] = {
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Struct": {"type": "object"},
    "google.protobuf.Value": {},
    "google.protobuf.ListValue": {"type": "array"},
    "google.protobuf.Any": {"type": "object", "properties": {"@type": {"type": "string"}}},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.DoubleValue": {"type": "number"},
    "google.protobuf.FloatValue": {"type": "number"},
    "google.protobuf.Int64Value": _INT64,
    "google.protobuf.UInt64Value": _UINT64,
    "google.protobuf.Int32Value": _INT32,
    "google.protobuf.UInt32Value": _UINT32,
    "google.protobuf.BoolValue": {"type": "boolean"},
    "google.protobuf.StringValue": {"type": "string"},
    "google.protobuf.BytesValue": _BYTES,
}


def message_schemas(
    message: Descriptor, into: dict[str, dict[str, Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The schemas of a message and of every message it reaches, by full name (added to `into`)."""
    schemas = {} if into is None else into
    pending = [message]
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name in schemas:
            continue
        if descriptor.full_name in _WELL_KNOWN:
            schemas[descriptor.full_name] = dict(_WELL_KNOWN[descriptor.full_name])
            continue
        properties: dict[str, Any] = {}
        for fd in descriptor.fields:
            properties[fd.name] = _field_schema(fd, pending)
        schemas[descriptor.full_name] = {"type": "object", "properties": properties}
    return schemas


def _field_schema(fd: FieldDescriptor, pending: list[Descriptor]) -> dict[str, Any]:
    if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
        # A map is an object whatever its key type: proto JSON writes every map key as a string.
        value = fd.message_type.fields_by_name["value"]
        return {"type": "object", "additionalProperties": _value_schema(value, pending)}
    single = _value_schema(fd, pending)
    return {"type": "array", "items": single} if fd.is_repeated else single


def _value_schema(fd: FieldDescriptor, pending: list[Descriptor]) -> dict[str, Any]:
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return {"type": "string", "enum": [value.name for value in fd.enum_type.values]}
    if fd.message_type is not None:
        pending.append(fd.message_type)
        return {"$ref": REF_PREFIX + fd.message_type.full_name}
    return dict(_SCALARS[fd.type])
