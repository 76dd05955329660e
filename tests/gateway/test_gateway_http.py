"""What aiohttp refuses before the application sees it (unknown methods, oversized request lines and
headers, malformed messages) is answered with Micro's error body too, and leaves no traceback in the log."""

from __future__ import annotations

import logging

import pytest

from raw_http import Answer, request, send

pytestmark = pytest.mark.asyncio


def _micro_error(answer: Answer) -> dict[str, object]:
    """The answer's body, checked to be Micro's error body (JSON, the four fields, the status as code)."""
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert set(body) == {"id", "code", "detail", "status"}
    assert body["code"] == answer.status
    return body


async def test_an_unknown_method_is_501(served: tuple[str, int]) -> None:
    answer = await send(*served, request("BREW /helloworld/call HTTP/1.1", body=b"{}"))
    assert (answer.status, _micro_error(answer)["status"]) == (501, "UNIMPLEMENTED")


async def test_a_header_over_the_limit_is_431(served: tuple[str, int]) -> None:
    answer = await send(*served, request("GET / HTTP/1.1", {"X-Big": "a" * 100_000}))
    body = _micro_error(answer)
    assert (answer.status, body["status"]) == (431, "Request Header Fields Too Large")
    assert "header is over the limit" in str(body["detail"])


async def test_too_many_headers_is_431(served: tuple[str, int]) -> None:
    answer = await send(*served, request("GET / HTTP/1.1", {f"X-H{n}": "v" for n in range(1000)}))
    body = _micro_error(answer)
    assert answer.status == 431
    assert "headers" in str(body["detail"])


async def test_a_request_line_over_the_limit_is_414(served: tuple[str, int]) -> None:
    answer = await send(*served, request(f"GET /helloworld/echo?name={'a' * 100_000} HTTP/1.1"))
    assert (answer.status, _micro_error(answer)["status"]) == (414, "Request-URI Too Long")


@pytest.mark.parametrize("data", [
    request("GET / HTTP/9.9"),
    b"POST /helloworld/call HTTP/1.1\r\nHost: g\r\nContent-Length: many\r\n\r\n{}",
    b"POST /helloworld/call HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
])
async def test_a_malformed_request_is_400(served: tuple[str, int], data: bytes) -> None:
    answer = await send(*served, data)
    body = _micro_error(answer)
    assert (answer.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert str(body["detail"]).startswith("malformed HTTP request")


async def test_a_micro_header_that_is_not_utf8_is_400(served: tuple[str, int]) -> None:
    data = request("POST /helloworld/echo HTTP/1.1", {"Content-Type": "application/json"}, b"{}")
    answer = await send(*served, data.replace(b"Host:", b"Micro-Trace: \xff\xfe\r\nHost:"))
    body = _micro_error(answer)
    assert (answer.status, body["status"]) == (400, "INVALID_ARGUMENT")
    assert "micro-trace" in str(body["detail"])


async def test_refused_requests_leave_no_traceback_in_the_log(
    served: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for data in (
        request("BREW / HTTP/1.1"),
        request("GET / HTTP/1.1", {"X-Big": "a" * 100_000}),
        request("GET / HTTP/9.9"),
        request("POST /helloworld/call HTTP/1.1", {"Content-Encoding": "gzip"}, b"not gzip"),
    ):
        assert (await send(*served, data)).status >= 400

    assert [record.getMessage() for record in caplog.records if record.exc_info] == []
    assert "Traceback" not in caplog.text
