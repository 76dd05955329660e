"""HTTP paths to (service, endpoint), by Micro's rules.

- `/foo`          -> service `foo`, endpoint `Foo.Call`
- `/foo/bar`      -> service `foo`, endpoint `Foo.Bar`
- `/foo/bar/baz`  -> service `foo`, endpoint `Bar.Baz`; with more segments, all but the last two name
  the service, joined by dots (`/v1/foo/bar/baz` -> `v1.foo`, `Bar.Baz`)
- a segment's dashes become CamelCase (`/foo-bar/do-it` -> `foo-bar`, `FooBar.DoIt`); the service name is
  kept as written
- an endpoint spelled exactly is taken as it is (`/foo/Foo.Bar` -> `foo`, `Foo.Bar`)

The registry has the last word: `catalog` also matches endpoint names regardless of case.
"""

from __future__ import annotations

__all__ = ["camel", "endpoint_path", "resolve"]


def camel(segment: str) -> str:
    """`do-it` -> `DoIt`, `getUser` -> `GetUser`: each dash-separated word with its first letter raised."""
    return "".join(word[:1].upper() + word[1:] for word in segment.split("-"))


def resolve(path: str) -> tuple[str, str] | None:
    """The (service, endpoint) a request path names, or None for a path that names no service."""
    parts = [part for part in path.split("/") if part]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0], f"{camel(parts[0])}.Call"
    if len(parts) == 2:
        service, method = parts
        if "." in method:
            return service, method
        return service, f"{camel(service)}.{camel(method)}"
    return ".".join(parts[:-2]), f"{camel(parts[-2])}.{camel(parts[-1])}"


def endpoint_path(service: str, endpoint: str) -> str:
    """The canonical path of an endpoint, the one the OpenAPI document lists: `/foo/Bar/Baz`."""
    return (
        f"/{service}/{endpoint.replace('.', '/')}" if endpoint.count(".") == 1 else f"/{service}/{endpoint}"
    )
