"""Call links on a unix socket (`node/socketlink.py`): a `LinkServer` in this process serves the handler
of test_calllink's `Callee` (it sleeps for the seconds the payload names, answers `done:<payload>`, and
fails on `fail`) on a socket in a temporary directory, and `CallLink`s over `SocketStream`s call it."""

from __future__ import annotations

import asyncio
import socket
import stat
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from micro.node.api.calllink import CallLink
from micro.node.api.socketlink import LinkServer, remove_stale, socket_link
from node_harness import PATIENCE, until
from test_calllink import Callee  # its handler and status; its grpc server is not used here

pytestmark = pytest.mark.asyncio

MAX_FRAME = 64 << 10


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "link.sock"


@pytest.fixture
def dropped() -> list[str]:
    """Why the server dropped each link it dropped."""
    return []


@pytest_asyncio.fixture
async def server(path: Path, dropped: list[str]) -> AsyncIterator[tuple[LinkServer, Callee]]:
    callee = Callee()
    server = LinkServer(path, callee.handle, callee.status, MAX_FRAME, dropped.append)
    await server.start()
    yield server, callee
    await server.close(grace=0.5)


def _link(path: Path) -> CallLink:
    return socket_link(path)


async def test_concurrent_calls_each_get_their_own_answer(server: tuple[LinkServer, Callee], path: Path) -> None:
    link = _link(path)
    replies = await asyncio.gather(*(link.call(f"0.00{n}".encode(), timeout=5) for n in range(10)))
    assert replies == [f"done:0.00{n}".encode() for n in range(10)]
    await link.close()


async def test_a_failed_call_raises_the_status_the_callee_gave_it(server: tuple[LinkServer, Callee], path: Path) -> None:
    link = _link(path)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await link.call(b"fail", timeout=5)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "no such thing"
    assert dict(caught.value.trailing_metadata()) == {"micro-error": '{"id": "test"}'}
    assert await link.call(b"0", timeout=5) == b"done:0"  # the link outlives a failed call
    await link.close()


async def test_a_call_out_of_time_is_cancelled_at_the_callee(server: tuple[LinkServer, Callee], path: Path) -> None:
    _, callee = server
    link = _link(path)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await link.call(b"5", timeout=0.1)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await until(lambda: callee.cancelled == [b"5"], PATIENCE, "the callee to cancel the call")
    await link.close()


async def test_nobody_listening_fails_unavailable_in_the_words_of_grpc(path: Path) -> None:
    link = _link(path)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await link.call(b"0", timeout=5)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (caught.value.details() or "").startswith("failed to connect")
    await link.close()


async def test_closing_the_caller_fails_its_waiting_calls_cancelled(server: tuple[LinkServer, Callee], path: Path) -> None:
    _, callee = server
    link = _link(path)
    waiting = asyncio.ensure_future(link.call(b"5", timeout=PATIENCE))
    await asyncio.wait_for(callee.started.wait(), PATIENCE)
    await link.close()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await waiting
    assert caught.value.code() == grpc.StatusCode.CANCELLED


async def test_a_restarted_server_is_reached_by_the_next_call(path: Path, dropped: list[str]) -> None:
    callee = Callee()
    first = LinkServer(path, callee.handle, callee.status, MAX_FRAME, dropped.append)
    await first.start()
    link = _link(path)
    assert await link.call(b"0", timeout=5) == b"done:0"
    callee.started.clear()  # set by the first call
    waiting = asyncio.ensure_future(link.call(b"5", timeout=PATIENCE))
    await asyncio.wait_for(callee.started.wait(), PATIENCE)
    await first.close(grace=0.1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await waiting
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    second = LinkServer(path, callee.handle, callee.status, MAX_FRAME, dropped.append)
    await second.start()
    assert await link.call(b"0", timeout=5) == b"done:0"
    await link.close()
    await second.close(grace=0.1)


async def test_the_socket_is_private_and_removed_at_close(path: Path, dropped: list[str]) -> None:
    callee = Callee()
    server = LinkServer(path, callee.handle, callee.status, MAX_FRAME, dropped.append)
    await server.start()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    await server.close(grace=0.1)
    assert not path.exists()


@pytest.mark.parametrize("frame", [struct.pack(">I", MAX_FRAME + 1), struct.pack(">I", 3) + b"\xff\xff\xff"],
                         ids=["over the limit", "not a LinkBatch"])
async def test_a_bad_frame_drops_its_connection_and_no_other(server: tuple[LinkServer, Callee], path: Path,
                                                             dropped: list[str], frame: bytes) -> None:
    link = _link(path)
    assert await link.call(b"0", timeout=5) == b"done:0"
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(frame)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # the node closed it
    writer.close()
    assert len(dropped) == 1
    assert await link.call(b"0", timeout=5) == b"done:0"
    await link.close()


async def test_stale_sockets_are_removed_and_live_ones_kept(tmp_path: Path, dropped: list[str]) -> None:
    stale = tmp_path / "0badc0de.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(stale))  # bound, never listening, then gone: what a killed process leaves
    left.close()
    callee = Callee()
    live = LinkServer(tmp_path / "0123abcd.sock", callee.handle, callee.status, MAX_FRAME, dropped.append)
    await live.start()

    assert remove_stale(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0123abcd.sock"]
    await live.close(grace=0.1)
