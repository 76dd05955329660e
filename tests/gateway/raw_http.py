"""HTTP requests as raw bytes, for what no well-behaved client sends (unknown methods, oversized request
lines and headers, bodies in the wrong encoding), and the answer read back from the socket."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    """Header names lower-cased."""
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(line: str, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """A request: its request line, headers (with Host, Content-Length and Connection: close) and body."""
    fields = {"Host": "gateway", "Content-Length": str(len(body)), "Connection": "close", **(headers or {})}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{line}\r\n{head}\r\n".encode() + body


async def send(host: str, port: int, data: bytes, timeout: float = 10.0) -> Answer:
    """Send `data` on a new connection and read the answer until the server closes it."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(data)
            try:
                await writer.drain()
            except ConnectionResetError:
                pass  # the server answered and closed before reading it all: the answer is still there
            received = await reader.read()
        finally:
            writer.close()
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body)
