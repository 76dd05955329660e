"""JSON Schemas of dict handlers, derived from their type annotations, and the check of a request body.

A handler's request parameter (and its return value) annotated with a `TypedDict` or a dataclass gets an
object schema: one property per field, `required` for the fields that must be present (a TypedDict's
required keys, a dataclass's fields without a default). Field types map as `str` → string, `int` →
integer, `float` → number, `bool` → boolean, `list[X]` → array of X, `dict[str, X]` → object of X, a
nested TypedDict or dataclass → its own object schema (inlined), `X | None` → X or null. Anything else
(`Any`, a class the mapping does not know) is left unconstrained. A plain `dict` annotation, or none, is
`{"type": "object"}`: any object. Schemas are draft 2020-12, the dialect `Endpoint.request_schema` names.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Union

__all__ = ["ANY_OBJECT", "RequestChecker", "schema_of"]

ANY_OBJECT: dict[str, Any] = {"type": "object"}

_SCALARS: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def schema_of(annotation: Any) -> dict[str, Any]:
    """The schema of a handler's request or reply annotation: an object schema for a TypedDict or a
    dataclass, else `{"type": "object"}`."""
    if typing.is_typeddict(annotation) or (isinstance(annotation, type) and dataclasses.is_dataclass(annotation)):
        return _object(annotation, ())
    return dict(ANY_OBJECT)


def _object(cls: type, seen: tuple[type, ...]) -> dict[str, Any]:
    if cls in seen:
        # Inlined schemas cannot describe a type that contains itself.
        raise TypeError(f"{cls.__name__} refers to itself; a request schema cannot be recursive")
    hints = typing.get_type_hints(cls)
    if typing.is_typeddict(cls):
        names = list(hints)
        required = [name for name in names if name in cls.__required_keys__]  # type: ignore[attr-defined]
    else:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        names = [f.name for f in fields]
        required = [f.name for f in fields
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {name: _field(hints[name], seen + (cls,)) for name in names},
    }
    if required:
        schema["required"] = required
    return schema


def _field(annotation: Any, seen: tuple[type, ...]) -> dict[str, Any]:
    if annotation in _SCALARS:
        return {"type": _SCALARS[annotation]}
    if typing.is_typeddict(annotation) or (isinstance(annotation, type) and dataclasses.is_dataclass(annotation)):
        return _object(annotation, seen)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        others = [a for a in args if a is not type(None)]
        if len(others) == 1 and len(others) < len(args):
            inner = _field(others[0], seen)
            # An unconstrained inner schema already admits null.
            return {**inner, "type": [inner["type"], "null"]} if "type" in inner else inner
        return {"anyOf": [_field(a, seen) for a in args]}
    if annotation is list or origin is list:
        return {"type": "array", "items": _field(args[0], seen)} if args else {"type": "array"}
    if annotation is dict or origin in (dict, Mapping):
        return {"type": "object", "additionalProperties": _field(args[1], seen)} if args else {"type": "object"}
    return {}


class RequestChecker:
    """Checks decoded request bodies against one schema; `problem` names the first field that fails."""

    def __init__(self, schema: dict[str, Any]) -> None:
        # Imported here: jsonschema takes ~0.3 s to import, and everything that imports micro.sdk (the CLI,
        # the gateway) would pay it, while only services with typed handlers need it.
        import jsonschema

        jsonschema.Draft202012Validator.check_schema(schema)
        self._validator = jsonschema.Draft202012Validator(schema)
        self._best_match = jsonschema.exceptions.best_match

    def problem(self, value: Any) -> str | None:
        """None when `value` fits, else one line naming the field (e.g. `field 'name': 5 is not of type
        'string'`)."""
        error = self._best_match(self._validator.iter_errors(value))
        if error is None:
            return None
        if not error.absolute_path:
            return error.message
        field = ".".join(str(part) for part in error.absolute_path)
        return f"field '{field}': {error.message}"
