"""The OpenAPI 3.1 document of everything the registry holds, built from the endpoints' own schemas.

Each endpoint is one POST operation at its canonical path (`/{service}/{Service}/{Method}`), tagged with
its service. Protobuf endpoints describe their messages from the registered descriptors, every message
once under `components.schemas` by its full name; JSON endpoints use their registered JSON Schemas, each
stored as a component named `{service}.{Endpoint}.Request` / `.Response` with its local `$ref`s moved
to point inside that component. Every operation answers errors with Micro's error body.
"""

from __future__ import annotations

import re
from typing import Any

from .catalog import ServiceEntry
from .routes import endpoint_path
from .schema import REF_PREFIX

__all__ = ["ERROR_SCHEMA", "openapi_document"]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Micro's error body.",
    "properties": {
        "id": {"type": "string", "description": "who raised it: a service, or go.micro.gateway"},
        "code": {"type": "integer", "description": "the HTTP status"},
        "detail": {"type": "string"},
        "status": {"type": "string", "description": "the gRPC status name, or the HTTP reason"},
    },
    "required": ["id", "code", "detail", "status"],
}

_ERROR_REF = {"$ref": REF_PREFIX + "MicroError"}
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def openapi_document(entries: list[ServiceEntry], version: str) -> dict[str, Any]:
    """The document for the given services (as the catalog holds them)."""
    schemas: dict[str, Any] = {"MicroError": ERROR_SCHEMA}
    paths: dict[str, Any] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        for name, route in sorted(entry.routes.items()):
            if route.codec is None:
                continue
            endpoint = route.endpoint
            if endpoint.codec == "proto":
                schemas.update(route.codec.definitions)
                request = {"$ref": REF_PREFIX + endpoint.request_type}
                response = {"$ref": REF_PREFIX + endpoint.response_type}
            else:
                request = _component(schemas, f"{entry.name}.{name}.Request", route.codec.request_schema)
                response = _component(schemas, f"{entry.name}.{name}.Response", route.codec.response_schema)
            operation = _operation(entry.name, name, request, response, endpoint.server_streaming)
            paths[endpoint_path(entry.name, name)] = {"post": operation}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Micro mesh gateway", "version": version},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _operation(
    service: str, endpoint: str, request: dict[str, Any], response: dict[str, Any], streaming: bool
) -> dict[str, Any]:
    if streaming:
        content = {
            "text/event-stream": {
                "schema": {"type": "string", "description": "server-sent events; each `data:` is one reply"},
            }
        }
        replies = {"description": f"a stream of {endpoint} replies", "content": content}
    else:
        replies = {
            "description": f"the {endpoint} reply",
            "content": {"application/json": {"schema": response}},
        }
    return {
        "operationId": f"{service}.{endpoint}",
        "tags": [service],
        "summary": f"{service} {endpoint}",
        "requestBody": {"content": {"application/json": {"schema": request}}},
        "responses": {
            "200": replies,
            "default": {"description": "an error", "content": {"application/json": {"schema": _ERROR_REF}}},
        },
    }


def _component(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A reference to a JSON endpoint's schema, stored as a component of its own."""
    component = _NAME_UNSAFE.sub("_", name)
    schemas[component] = _relocated(schema, REF_PREFIX + component)
    return {"$ref": REF_PREFIX + component}


def _relocated(value: Any, base: str) -> Any:
    """A JSON Schema with its document-local `$ref`s (`#/$defs/X`) made relative to `base` instead."""
    if isinstance(value, dict):
        moved = {key: _relocated(item, base) for key, item in value.items()}
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            moved["$ref"] = base + ref[1:]
        return moved
    if isinstance(value, list):
        return [_relocated(item, base) for item in value]
    return value
