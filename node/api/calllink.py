"""Unary calls multiplexed on one stream: the SDK to its node, one node to another, a node to its SDK
instances (the two links within a machine run on unix sockets: `socketlink.py`; this module is the
protocol and its gRPC transport).

grpc.aio spends about twice the CPU and latency on setting up a unary call as on one message of a
stream that is already open (measured on this machine: 526 against 242 µs a round trip, 350 against
150 µs of the server's CPU), and every routed call crosses two such hops before the instance's own.
So a caller keeps one `CallLink` per channel: each call is a `LinkFrame` numbered by the caller, its
payload the serialized request; the callee (`serve_link`) runs the calls concurrently and answers each
with a frame holding the serialized reply, or the status code, details and trailer the call failed
with. To the caller a link call behaves as the unary call it replaces: the same reply bytes, and a
failure raised as a `grpc.aio.AioRpcError` with the same status, so the callers' error mapping stays.

- A caller's timeout is its own wait, and travels in the frame as the callee's deadline.
- A call the caller stops waiting for (cancelled, or out of time) is cancelled at the callee by a frame
  with `cancel` set.
- When the stream fails, every call waiting on it fails with the stream's own status (UNAVAILABLE when
  the peer is gone: the router moves on to another instance), and the next call opens a new stream.

Each end writes its frames a `LinkBatch` at a time (`_Batches`): a frame sent while a write is under
way waits for it and goes with the others sent meanwhile (up to 1 MiB of payloads). Under load a write
of grpc.aio, which costs about as much CPU as a whole call's other work, is shared by several calls.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import grpc

from .proto import node_pb2

__all__ = ["ACCOUNT_PREFIX", "CALLER_KEY", "CallLink", "Handler", "LinkWriter", "Status", "batched", "link_error", "serve_link", "take_batch"]

Handler = Callable[[bytes, float | None], Awaitable[bytes]]
"""Serves one call: the request payload and the caller's time left (None: no limit), to the reply."""

Status = Callable[[Exception], tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]]
"""The status code, details and trailing metadata a failed call ends with."""

CALLER_KEY = "micro-caller"
"""The metadata key that names the calling node (handlers read it as `ctx.caller`)."""
ACCOUNT_PREFIX = "micro-account-"
"""Of the metadata keys `micro-account-id`, `-name` and `-scopes` (comma-separated): the account a call is
made for, set by the node that admitted it, which drops any a client sent (handlers read `ctx.account`)."""
_OK = grpc.StatusCode.OK.value[0]
_CODES = {code.value[0]: code for code in grpc.StatusCode}


class LinkWriter(Protocol):
    """One end's writer of frames."""

    def post(self, frame: node_pb2.LinkFrame, alone: bool = False) -> asyncio.Future[None]:
        """Queue `frame`; the future is done once it is written, or failed with the write's error as a
        `grpc.aio.AioRpcError`. Nobody need await it. `alone`: no other call of this end is under way,
        so no frame is likely to join this one (a writer may skip waiting for company)."""

    async def flushed(self) -> None:
        """Return once every frame posted so far is written (or failed)."""


def link_error(code: grpc.StatusCode, details: str, trailing: tuple[tuple[str, str], ...] = ()) -> grpc.aio.AioRpcError:
    """A failure as a grpc.aio call would raise it (the callers' error mapping stays one)."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(*trailing), details)


def _of_stream(exc: grpc.aio.AioRpcError) -> grpc.aio.AioRpcError:
    """A call's failure with the status the whole stream failed with (one error object per call)."""
    return link_error(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ()))


def batched(write: Callable[[node_pb2.LinkBatch], Awaitable[None]]) -> LinkWriter:
    """The writer of a grpc.aio stream: frames written a `LinkBatch` at a time by a task (`_Batches`)."""
    return _Batches(write)


def _grpc_writer(stream: Any) -> LinkWriter:
    return batched(stream.write)


class CallLink:
    """The caller's end: unary calls on one stream of `open_stream()` (a stream-stream multicallable of
    a channel, or a `socketlink.SocketStream`: batches read from it, a failure raised as
    `grpc.aio.AioRpcError`), opened on the first call and again after it failed; `writer`
    gives a stream's writer (by default a `_Batches` over its `write`)."""

    def __init__(self, open_stream: Callable[[], Any],
                 writer: Callable[[Any], LinkWriter] = _grpc_writer) -> None:
        self._open = open_stream
        self._writer_of = writer
        self._stream: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[bytes]] = {}
        """The calls waiting for an answer on the current stream (each stream has its own)."""
        self._batches: LinkWriter | None = None
        """The writer of the current stream."""
        self._ids = itertools.count(1)

    async def call(self, payload: bytes, timeout: float | None) -> bytes:
        """The reply to one call; raises `grpc.aio.AioRpcError` as a unary call would."""
        number = next(self._ids)
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        stream, batches, waiting = self._current()
        waiting[number] = answer
        try:
            async with asyncio.timeout(timeout):
                frame = node_pb2.LinkFrame(id=number, payload=payload, timeout_s=timeout or 0.0)
                await _sent(batches, frame, alone=len(waiting) == 1)
                return await answer
        except TimeoutError:
            raise link_error(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
        finally:
            # Still listed: no answer came (the reader takes a call off the list as it answers it). A stream
            # that ended has stopped its calls already.
            if waiting.pop(number, None) is not None and not stream.done() and stream is self._stream:
                batches.post(node_pb2.LinkFrame(id=number, cancel=True))  # the callee stops the call

    async def close(self) -> None:
        """End the stream; calls still waiting fail CANCELLED."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.cancel()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    def _current(self) -> tuple[Any, LinkWriter, dict[int, asyncio.Future[bytes]]]:
        """The current stream (opened if there is none), its writer and its waiting calls."""
        stream = self._stream
        if stream is None or stream.done() or self._batches is None:
            stream = self._stream = self._open()
            self._batches = self._writer_of(stream)
            self._waiting = {}
            self._reader = asyncio.get_running_loop().create_task(self._read(stream, self._waiting))
        return stream, self._batches, self._waiting

    async def _read(self, stream: Any, waiting: dict[int, asyncio.Future[bytes]]) -> None:
        failure = link_error(grpc.StatusCode.UNAVAILABLE, "the call link ended")
        try:
            async for batch in stream:
                for frame in batch.frames:
                    answer = waiting.pop(frame.id, None)
                    if answer is None or answer.done():
                        continue  # its caller stopped waiting
                    if frame.code == _OK:
                        answer.set_result(frame.payload)
                    else:
                        code = _CODES.get(frame.code, grpc.StatusCode.UNKNOWN)
                        answer.set_exception(link_error(code, frame.details, tuple(frame.trailing.items())))
        except grpc.aio.AioRpcError as exc:
            failure = _of_stream(exc)
        except asyncio.CancelledError:
            failure = link_error(grpc.StatusCode.CANCELLED, "the call link was closed")
        if self._stream is stream:
            self._stream = None
        for answer in waiting.values():
            if not answer.done():
                answer.set_exception(failure)
        waiting.clear()


async def serve_link(batches: AsyncIterator[node_pb2.LinkBatch], answers: LinkWriter,
                     handle: Handler, status: Status, stopping: asyncio.Event | None = None) -> None:
    """The callee's end of one link: runs each call of `batches` with `handle`, concurrently, and posts
    its answer to `answers` as soon as it has it (`status` turns a failure into its status). Returns when the caller
    closed its side, or once `stopping` is set (calls sent after that are not started, and fail at the
    caller when the stream ends), with every started call answered; stops them all if the stream goes
    first."""
    loop = asyncio.get_running_loop()
    running: dict[int, asyncio.Task[None]] = {}

    async def run(number: int, payload: bytes, time_left: float | None) -> None:
        try:
            reply = node_pb2.LinkFrame(id=number, payload=await handle(payload, time_left))
        except asyncio.CancelledError:
            return  # the caller gave up: it reads no answer
        except Exception as exc:  # noqa: BLE001 - every failure goes back as the call's status
            code, details, trailing = status(exc)
            reply = node_pb2.LinkFrame(id=number, code=code.value[0], details=details, trailing=dict(trailing))
        finally:
            running.pop(number, None)
        # A write fails only once the caller is gone: nobody waits for the answer then.
        answers.post(reply, alone=not running)

    async def read() -> None:
        async for batch in batches:
            for frame in batch.frames:
                if frame.cancel:
                    task = running.get(frame.id)
                    if task is not None:
                        task.cancel()
                elif frame.id not in running:
                    running[frame.id] = loop.create_task(run(frame.id, frame.payload, frame.timeout_s or None))

    reader = loop.create_task(read())
    try:
        if stopping is None:
            await reader
        else:
            stopped = loop.create_task(stopping.wait())
            try:
                await asyncio.wait((reader, stopped), return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopped.cancel()
            if reader.done():
                reader.result()  # the stream's failure, if it failed
            else:
                reader.cancel()
                await asyncio.wait((reader,))
        if running:
            await asyncio.wait(list(running.values()))
        await answers.flushed()
    finally:
        reader.cancel()
        for task in list(running.values()):
            task.cancel()


_BATCH_BYTES = 1 << 20
"""Most payload bytes in one LinkBatch, well under the 4 MiB a gRPC message may hold (a larger frame goes
alone); frames beyond it wait for the next write."""


class _Batches:
    """One stream's writer: a task writes the frames sent to it, those sent while it writes together in
    its next write (so that under load one write serves several calls). The task, not the sender, writes,
    because a grpc.aio write cancelled with its sender would end the whole stream."""

    def __init__(self, write: Callable[[node_pb2.LinkBatch], Awaitable[None]]) -> None:
        self._write = write
        self._queue: collections.deque[tuple[node_pb2.LinkFrame, asyncio.Future[None]]] = collections.deque()
        self._writer: asyncio.Task[None] | None = None

    def post(self, frame: node_pb2.LinkFrame, alone: bool = False) -> asyncio.Future[None]:
        """Queue `frame` for the writer (`alone` changes nothing: a grpc.aio write takes long enough for
        company to gather anyway); the future is done once it is written, or failed with the write's
        error (a stream cancelled meanwhile: UNAVAILABLE). Nobody need await it."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[None] = loop.create_future()
        written.add_done_callback(_retrieved)
        self._queue.append((frame, written))
        if self._writer is None:
            self._writer = loop.create_task(self._drain())
        return written

    async def flushed(self) -> None:
        """Return once every frame sent so far is written (or failed)."""
        while self._writer is not None:
            await asyncio.wait((self._writer,))

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = take_batch(self._queue)
                try:
                    await self._write(node_pb2.LinkBatch(frames=[frame for frame, _ in batch]))
                except BaseException as exc:
                    # grpc.aio raises CancelledError from a write on a stream cancelled here (`close`).
                    failure = exc if isinstance(exc, Exception) else link_error(grpc.StatusCode.UNAVAILABLE,
                                                                            "the call link was closed")
                    for _, written in batch:
                        if not written.done():
                            written.set_exception(failure)
                    task = asyncio.current_task()
                    if not isinstance(exc, Exception) and task is not None and task.cancelling():
                        raise  # this writer was cancelled (the loop is stopping)
                else:
                    for _, written in batch:
                        if not written.done():
                            written.set_result(None)
        finally:
            self._writer = None
            closed = link_error(grpc.StatusCode.UNAVAILABLE, "the call link was closed")
            while self._queue:  # left only when this writer was cancelled: no sender may hang
                _, written = self._queue.popleft()
                if not written.done():
                    written.set_exception(closed)


def take_batch(queue: collections.deque[tuple[node_pb2.LinkFrame, asyncio.Future[None]]]
               ) -> list[tuple[node_pb2.LinkFrame, asyncio.Future[None]]]:
    """The next frames of `queue` to write together: at least one, then up to `_BATCH_BYTES` of payloads."""
    batch = [queue.popleft()]
    size = len(batch[0][0].payload)
    while queue and size + len(queue[0][0].payload) <= _BATCH_BYTES:
        size += len(queue[0][0].payload)
        batch.append(queue.popleft())
    return batch


def _retrieved(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


async def _sent(batches: LinkWriter, frame: node_pb2.LinkFrame, alone: bool) -> None:
    """Write a call's frame; a failed write is the call's failure, as a unary call's."""
    try:
        await batches.post(frame, alone)
    except grpc.aio.AioRpcError as exc:
        raise _of_stream(exc) from None
    except asyncio.InvalidStateError:  # the stream ended meanwhile
        raise link_error(grpc.StatusCode.UNAVAILABLE, "the call link ended") from None
