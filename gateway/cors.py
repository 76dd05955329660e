"""Which web pages may read the gateway's answers (CORS): the configured origins, none by default.

A browser sends any page's requests to the gateway, but lets the page read an answer only when the answer
names the page's origin in `Access-Control-Allow-Origin`. The gateway names the request's `Origin` there
(with `Vary: Origin`, as the answer depends on it) when it is one of the configured origins, and answers
their preflights (`OPTIONS`) with the methods and headers it takes, `Authorization` among them; for any
other origin it adds nothing. It never allows `*` and never credentials: no cookie or other ambient
credential authorises anything, so a page acts only with the token it sends itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

__all__ = ["PREFLIGHT", "Cors", "origin"]

PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Accept, Authorization, Timeout, Micro-Timeout",
    "Access-Control-Max-Age": "600",
}
"""What a preflight from an allowed origin is answered with, beside the origin itself."""

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(text: str) -> str:
    """`text` as the origin a browser sends (`https://app.example.com`, `http://localhost:3000`): scheme
    and host lower-cased, a default port left out; ValueError for anything else (a path, `*`, `null`)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        parts, port = None, None
    if (parts is None or parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username is not None
            or parts.password is not None or parts.path not in ("", "/") or parts.query or parts.fragment):
        raise ValueError(f"{text!r} is not an origin: give scheme://host[:port], e.g. https://app.example.com")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    shown_port = "" if port is None or port == _DEFAULT_PORTS[parts.scheme] else f":{port}"
    return f"{parts.scheme}://{host}{shown_port}"


class Cors:
    """The configured origins, and what their answers carry."""

    def __init__(self, origins: Iterable[str]) -> None:
        self.origins = frozenset(map(origin, origins))

    def allowed(self, request: web.BaseRequest) -> bool:
        return request.headers.get("Origin") in self.origins

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """The application's `on_response_prepare`: name the origin on every answer to an allowed one."""
        if self.allowed(request):
            response.headers["Access-Control-Allow-Origin"] = request.headers["Origin"]
            response.headers.add("Vary", "Origin")
