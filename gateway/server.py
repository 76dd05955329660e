"""The gateway's HTTP server: aiohttp's, with Micro's error body for what aiohttp answers itself.

aiohttp answers some requests before any handler sees them: those its HTTP parser refuses (an unknown
method, an oversized request line or header, too many headers, a malformed message), and those whose
handler raised past the application. It answers them in plain text and logs them with a traceback.
`Runner` is an `AppRunner` whose connections (`_Connection`, a `web.RequestHandler`) answer them with
Micro's error body instead, at the HTTP status that fits, and record a failure the gateway did not
expect as one `Log` record; a client's malformed request is not logged (the gateway logs no requests).

The parser raises the same `LineTooLong` for a request line and for a header, with the limit it hit:
the two limits differ, so the limit tells a request line over its limit (414) from a header (431).
"""

from __future__ import annotations

import sys
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, HttpProcessingError, LineTooLong

from ..node.api.micro_errors import MicroError
from .errors import error_response, gateway_error, http_error, refusal_response
from .logs import Log, failure_fields

__all__ = ["MAX_FIELD", "MAX_HEADERS", "MAX_REQUEST_LINE", "Runner"]

MAX_REQUEST_LINE = 16384
"""Bytes of a request's target (path and query: a GET call may carry its request in the query)."""
MAX_FIELD = 8190
"""Bytes of a header, name and value (aiohttp's default)."""
MAX_HEADERS = 128
"""Headers in a request (the default of aiohttp's C parser, set here for every parser and version)."""

_TOO_MANY_HEADERS = "Too many headers received"  # the message of both of aiohttp's parsers
_DETAIL = 300  # characters of a parser's description kept: it quotes the request


class Runner(web.AppRunner):
    """An `AppRunner` whose connections answer every error with Micro's error body; `log` records the
    failures it did not expect."""

    def __init__(self, app: web.Application, log: Log, **kwargs: Any) -> None:
        super().__init__(
            app, max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_FIELD, max_headers=MAX_HEADERS, **kwargs
        )
        self._log = log

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        # The server aiohttp made for the application, remade to make `_Connection`s.
        return _Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            log=self._log,
            **made._kwargs,
        )


class _Server(web.Server):
    def __init__(self, *args: Any, log: Log, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._log = log

    def __call__(self) -> web.RequestHandler:
        return _Connection(self, loop=self._loop, log=self._log, **self._kwargs)


class _Connection(web.RequestHandler):
    def __init__(self, manager: web.Server, *, log: Log, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._log = log

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The answer to a request the parser refused (400, `exc` what it raised), to a handler that raised
        (500) or timed out (504): Micro's error body. Like aiohttp's own, it closes the connection, and
        raises ConnectionError if the response had already started (there is no answering then)."""
        if status == 500:
            self._log.error("gateway.failed", method=request.method, path=request.path, **failure_fields(exc))
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started: no error response can follow")
        response = error_response(self._refusal(status, exc))
        response.force_close()
        return response

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        """Send `resp`: an aiohttp refusal that no route answered (a request target that is no path, such
        as `OPTIONS *`) as Micro's error body, like every other answer."""
        if isinstance(resp, web.HTTPException) and resp.status >= 400:
            resp = refusal_response(resp)
        return await super().finish_response(request, resp, start_time)

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's record of an exception it caught: one `Log` record, unless it is the client's
        malformed request or body (it met it again while draining the body, say)."""
        exc = kw.get("exc_info")
        if not isinstance(exc, BaseException):  # exc_info=True, or none: the exception being handled
            exc = sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError | web.RequestPayloadError):
            return
        what = args[0] % args[1:] if args else ""
        self._log.error("gateway.server_failed", what=what, **failure_fields(exc))

    def _refusal(self, status: int, exc: BaseException | None) -> MicroError:
        if status == 500:
            return gateway_error("INTERNAL", "the gateway failed to handle the request")
        if status == 504:
            return gateway_error("DEADLINE_EXCEEDED", "the gateway's handler timed out")
        if isinstance(exc, LineTooLong):
            if exc.args[1] == self.max_line_size:
                return http_error(414, f"the request line is over the limit of {self.max_line_size} bytes")
            return http_error(431, f"a request header is over the limit of {self.max_field_size} bytes")
        if isinstance(exc, BadHttpMessage) and exc.message == _TOO_MANY_HEADERS:
            return http_error(431, f"the request has over {self.max_headers} headers")
        if isinstance(exc, BadHttpMethod):
            # RFC 9110, 9.1: a method the server does not recognise is 501 (one it knows but a resource
            # does not serve is 405: the application answers those).
            return gateway_error("UNIMPLEMENTED", "unknown method; the gateway serves GET, POST and OPTIONS")
        said = " ".join(exc.message.split()) if isinstance(exc, HttpProcessingError) else ""
        return gateway_error("INVALID_ARGUMENT", f"malformed HTTP request: {said or 'unreadable'}"[:_DETAIL])

