"""Call links on a unix socket: the SDK's routed calls to its own node without grpc.aio.

grpc.aio takes ~200 µs to carry one message of an open stream from one process to another on this
machine: a trace of a call routed over two nodes spent 1.4 of its 2.0 ms in its six one-way legs and
~0.2 ms of each node's CPU. A unix socket carries a message in ~50 µs. The SDK and its node always share
a machine, so besides `CallLink` on `node.sock` the node serves the same link on `DATA_DIR/link.sock`
(0600, like node.sock): in each direction a sequence of frames, each a 4-byte big-endian length and a
serialized `LinkBatch`, with the calls, cancellations and answers of `calllink.py` unchanged.

A lone call's frame is written the moment it is posted (`transport.write` does not block), with no
writer task or turn of the loop in between; frames of concurrent calls go together in one `LinkBatch` at
the next turn, so they share writes as they do on grpc. Only while
the socket's buffer is over its high-water mark do posts wait for a task that writes once it drains. A frame over the reader's limit, one that does not
parse, or a connection cut mid-frame ends that link: at the caller every waiting call fails UNAVAILABLE
(and the next call connects again), at the node the link is dropped and logged.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import grpc
from google.protobuf.message import DecodeError

from .calllink import CallLink, Handler, Status, link_error, serve_link, take_batch
from .proto import node_pb2

__all__ = ["LinkServer", "SocketStream", "remove_stale", "socket_link"]

_LENGTH = struct.Struct(">I")
_CALLER_MAX_FRAME = 1 << 30
"""Answers from our own node are not limited beyond what a frame's length can say."""


class _BadFrame(Exception):
    """A frame over the limit or one that does not parse."""


async def _batches(reader: asyncio.StreamReader, max_frame: int) -> AsyncIterator[node_pb2.LinkBatch]:
    """The batches of one connection until its end; raises _BadFrame, or IncompleteReadError when the
    connection ends mid-frame."""
    while True:
        try:
            header = await reader.readexactly(_LENGTH.size)
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            return
        (size,) = _LENGTH.unpack(header)
        if size > max_frame:
            raise _BadFrame(f"a frame of {size} bytes (at most {max_frame})")
        data = await reader.readexactly(size)
        try:
            yield node_pb2.LinkBatch.FromString(data)
        except DecodeError:
            raise _BadFrame("a frame that is not a LinkBatch") from None


class _Writer:
    """Posts frames to one connection (a `calllink.LinkWriter`). A frame posted `alone` (no other call of
    its end under way) is written at once; the others go together in one write at the next turn of the
    loop, so concurrent calls share writes and the reader's wake-ups, and so the batches the next hop
    forwards (writing each at once halved the routed throughput: every hop after it wrote more, smaller
    batches). Until `attach` (the caller connecting) frames wait, and fail if `fail` comes first."""

    def __init__(self) -> None:
        self._stream: asyncio.StreamWriter | None = None
        self._queue: collections.deque[tuple[node_pb2.LinkFrame, asyncio.Future[None]]] = collections.deque()
        self._turn_ends = False
        self._drainer: asyncio.Task[None] | None = None
        self._failure: grpc.aio.AioRpcError | None = None

    def attach(self, stream: asyncio.StreamWriter) -> None:
        self._stream = stream
        self._flush()

    def fail(self, failure: grpc.aio.AioRpcError) -> None:
        """No more writes: what waits and what comes fails with `failure`."""
        if self._failure is None:
            self._failure = failure
        while self._queue:
            _failed(self._queue.popleft()[1], self._failure)

    def post(self, frame: node_pb2.LinkFrame, alone: bool = False) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        if self._failure is not None:
            _failed(written, self._failure)
            return written
        self._queue.append((frame, written))
        if alone and len(self._queue) == 1:
            self._flush()
        elif not self._turn_ends:
            self._turn_ends = True
            loop.call_soon(self._end_turn)
        return written

    async def flushed(self) -> None:
        self._flush()
        while self._drainer is not None:
            await asyncio.wait((self._drainer,))

    def _end_turn(self) -> None:
        self._turn_ends = False
        self._flush()

    def _flush(self) -> None:
        stream = self._stream
        if stream is None or self._drainer is not None or not self._queue:
            return
        if stream.is_closing():
            self.fail(link_error(grpc.StatusCode.UNAVAILABLE, "the call link ended"))
            return
        while self._queue and not _paused(stream):
            batch = take_batch(self._queue)
            data = node_pb2.LinkBatch(frames=[frame for frame, _ in batch]).SerializeToString()
            stream.write(_LENGTH.pack(len(data)) + data)
            for _, written in batch:
                if not written.done():
                    written.set_result(None)
        if self._queue:
            self._drainer = asyncio.get_running_loop().create_task(self._drain(stream))

    async def _drain(self, stream: asyncio.StreamWriter) -> None:
        try:
            await stream.drain()
        except (OSError, RuntimeError) as exc:
            self.fail(link_error(grpc.StatusCode.UNAVAILABLE, f"the call link ended: {exc}"))
        finally:
            self._drainer = None
        self._flush()


def _failed(written: asyncio.Future[None], failure: grpc.aio.AioRpcError) -> None:
    """Fail a written-future, marked as seen: nobody need await it (no done-callback per frame for that)."""
    if not written.done():
        written.set_exception(failure)
        written.exception()


def _paused(stream: asyncio.StreamWriter) -> bool:
    transport = stream.transport
    return transport.get_write_buffer_size() > transport.get_write_buffer_limits()[1]


class SocketStream:
    """The caller's end of one link to the server listening on `path`, for `calllink.CallLink`, which reads
    it as a stream and posts through it as its writer (`socket_link`). Connects at once; fails as a
    grpc.aio stream would."""

    def __init__(self, path: Path) -> None:
        self._writer = _Writer()
        self._stream: asyncio.StreamWriter | None = None
        self._done = False
        self._cancelled = False
        self._connecting = asyncio.get_running_loop().create_task(asyncio.open_unix_connection(str(path)))

    def done(self) -> bool:
        return self._done

    def cancel(self) -> bool:
        """Close the link: the reader ends CANCELLED and waiting calls with it."""
        if self._done:
            return False
        self._cancelled = True
        self._done = True
        self._connecting.cancel()
        self._writer.fail(link_error(grpc.StatusCode.CANCELLED, "the call link was closed"))
        if self._stream is not None:
            self._stream.close()
        return True

    def post(self, frame: node_pb2.LinkFrame, alone: bool = False) -> asyncio.Future[None]:
        return self._writer.post(frame, alone)

    async def flushed(self) -> None:
        await self._writer.flushed()

    def __aiter__(self) -> AsyncIterator[node_pb2.LinkBatch]:
        return self._read()

    async def _read(self) -> AsyncIterator[node_pb2.LinkBatch]:
        failure = link_error(grpc.StatusCode.UNAVAILABLE, "the call link ended")
        try:
            try:
                reader, self._stream = await self._connecting
            except OSError as exc:
                # The words grpc uses, which the SDK turns into "no node running at ...".
                failure = link_error(grpc.StatusCode.UNAVAILABLE, f"failed to connect to all addresses; {exc}")
                raise failure from None
            self._writer.attach(self._stream)
            async for batch in _batches(reader, _CALLER_MAX_FRAME):
                yield batch
        except (OSError, asyncio.IncompleteReadError, _BadFrame) as exc:
            failure = link_error(grpc.StatusCode.UNAVAILABLE, f"the call link ended: {exc}")
        except asyncio.CancelledError:
            if not self._cancelled:
                raise
        finally:
            self._done = True
            if self._cancelled:
                failure = link_error(grpc.StatusCode.CANCELLED, "the call link was closed")
            self._writer.fail(failure)
            if self._stream is not None:
                self._stream.close()
        raise failure


def socket_link(path: Path) -> CallLink:
    """A caller's call link to the `LinkServer` on `path` (a `SocketStream` is its own writer)."""
    return CallLink(lambda: SocketStream(path), writer=lambda stream: stream)


def remove_stale(directory: Path) -> int:
    """Remove the sockets in `directory` that nobody listens on any more (left by a process that was
    killed); the number removed. A socket that accepts, or whose listener is merely busy, stays."""
    removed = 0
    for path in directory.glob("*.sock"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.setblocking(False)
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        except OSError:
            pass  # busy (EAGAIN) or not ours to judge: leave it
        finally:
            probe.close()
    return removed


class LinkServer:
    """The callee's end (the node's for its SDK clients, an instance's for its node): serves `handle` on
    every connection to `path` until `close`; `dropped` hears why a link was dropped."""

    def __init__(self, path: Path, handle: Handler, status: Status, max_frame: int,
                 dropped: Callable[[str], None]) -> None:
        self.path = path
        self._handle = handle
        self._status = status
        self._max_frame = max_frame
        self._dropped = dropped
        self._server: asyncio.Server | None = None
        self._stopping = asyncio.Event()
        self._links: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen; the socket is 0600 from the start. Raises OSError when it cannot."""
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._accepted, str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    def _accepted(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, stream))
        self._links.add(task)
        task.add_done_callback(self._links.discard)

    async def _serve(self, reader: asyncio.StreamReader, stream: asyncio.StreamWriter) -> None:
        answers = _Writer()
        answers.attach(stream)
        try:
            await serve_link(_batches(reader, self._max_frame), answers, self._handle, self._status, self._stopping)
        except (OSError, asyncio.IncompleteReadError, _BadFrame) as exc:
            self._dropped(str(exc) or type(exc).__name__)
        finally:
            answers.fail(link_error(grpc.StatusCode.UNAVAILABLE, "the call link ended"))
            stream.close()

    async def close(self, grace: float) -> None:
        """Stop taking calls, answer those started within `grace` seconds, close every link and remove the
        socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.close()
        if self._links:
            _, late = await asyncio.wait(list(self._links), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        self.path.unlink(missing_ok=True)
