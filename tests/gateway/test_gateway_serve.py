"""`serve` runs the gateway on a real TCP port; stopping it ends open event streams at once."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from micro.gateway import DirectBackend, serve

pytestmark = pytest.mark.asyncio


async def test_serve_answers_http_on_its_port(backend: DirectBackend) -> None:
    runner = await serve(backend, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"http://{host}:{port}/helloworld/call", json={"name": "tcp"}) as reply,
        ):
            assert await reply.json() == {"msg": "Hello tcp"}
    finally:
        await runner.cleanup()


async def test_stopping_ends_open_streams_at_once_with_an_unavailable_event(backend: DirectBackend) -> None:
    runner = await serve(backend, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://{host}:{port}/helloworld/count", json={"count": 1000, "pace": 0.05}) as stream,
    ):
        await stream.content.readuntil(b"\n\n")
        await asyncio.wait_for(runner.cleanup(), 30)
        rest = (await stream.content.read()).decode()
    # The gateway ended the stream itself: one cut at the end of the shutdown grace has no such event.
    last = rest.strip().split("\n\n")[-1].split("\n")
    assert last[0] == "event: error"
    assert json.loads(last[1].removeprefix("data: "))["status"] == "UNAVAILABLE"
