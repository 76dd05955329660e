"""Concurrent requests of one client sent together in many-in-one calls (KvPutMany, PublishMany,
StreamPublishMany).

A request is queued and a flush is scheduled for the next turn of the event loop, so every request
started in the same turn (an `asyncio.gather`) shares a call. With no call out, a request goes at once.
While calls are out, a few new requests wait and go together when one returns (group commit, as TCP's
Nagle does for bytes): a steady trickle of writers then shares calls instead of each paying for its own
on both sides. Only a backlog of `PIPELINE_ITEMS` requests (or `PIPELINE_BYTES`) starts another call
alongside, up to `IN_FLIGHT`, so a heavy load keeps the node busy while replies travel. Each request
is still answered on its own: the call returns one outcome per request, a value or the error that
request alone failed with.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["BATCH_BYTES", "BATCH_ITEMS", "IN_FLIGHT", "PIPELINE_BYTES", "PIPELINE_ITEMS", "Batcher"]

BATCH_BYTES = 2 * 1024 * 1024
"""Most payload bytes in one call: well under the 4 MiB a gRPC message may hold."""
BATCH_ITEMS = 1000
"""Most requests in one call, so a long burst is split into calls that overlap."""
IN_FLIGHT = 4
"""Calls in flight at once: enough to keep the node busy while replies travel."""
PIPELINE_ITEMS = 32
PIPELINE_BYTES = 256 * 1024
"""A backlog that starts another call while one is out; less waits for one to return."""

_Request = TypeVar("_Request")
_Result = TypeVar("_Result")


class Batcher(Generic[_Request, _Result]):
    """Batches concurrent `submit`s into calls of `send`, which answers a batch with one outcome per
    request, in order; `size` is a request's payload bytes, counted against `BATCH_BYTES`."""

    def __init__(self, send: Callable[[list[_Request]], Awaitable[Sequence[_Result | Exception]]],
                 size: Callable[[_Request], int], failed: Callable[[Exception], None] = lambda error: None) -> None:
        """`failed` hears the failure of each request queued by `post`, which nobody awaits."""
        self._send_batch = send
        self._size = size
        self._failed = failed
        self._queue: collections.deque[tuple[_Request, asyncio.Future[_Result] | None]] = collections.deque()
        self._queued_bytes = 0
        self._flush_scheduled = False
        self._in_flight = 0
        self._calls: set[asyncio.Task[None]] = set()  # kept: tasks are weakly held
        self.unanswered = 0
        """Requests queued or in a call, not yet answered."""
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    async def submit(self, request: _Request) -> _Result:
        """The outcome of `request`, sent with whatever else is submitted meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_Result] = loop.create_future()
        self._enqueue(loop, request, future)
        return await future

    def post(self, request: _Request) -> None:
        """Queue `request` and return: nobody waits for its outcome (a failure goes to `failed`), and no
        future or callback is made for it."""
        self._enqueue(asyncio.get_running_loop(), request, None)

    def _enqueue(self, loop: asyncio.AbstractEventLoop, request: _Request,
                 future: asyncio.Future[_Result] | None) -> None:
        self._queue.append((request, future))
        self._queued_bytes += self._size(request)
        self.unanswered += 1
        self._schedule(loop)

    async def answered(self, at_most: int = 0) -> None:
        """Return once at most `at_most` requests are unanswered."""
        if self.unanswered > at_most:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((at_most, waiter))
            await waiter

    def _may_send(self) -> bool:
        """Whether a call may start now: the first at once, more only for a backlog."""
        if not self._queue or self._in_flight >= IN_FLIGHT:
            return False
        return (self._in_flight == 0 or len(self._queue) >= PIPELINE_ITEMS
                or self._queued_bytes >= PIPELINE_BYTES)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._flush_scheduled and self._may_send():
            self._flush_scheduled = True
            loop.call_soon(self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush_scheduled = False
        while self._may_send():
            self._in_flight += 1
            call = loop.create_task(self._send(self._take()))
            self._calls.add(call)
            call.add_done_callback(self._calls.discard)

    def _take(self) -> list[tuple[_Request, asyncio.Future[_Result] | None]]:
        """The next batch, in order: at least one request, then within both limits."""
        batch = [self._queue.popleft()]
        size = self._size(batch[0][0])
        while self._queue and len(batch) < BATCH_ITEMS:
            more = self._size(self._queue[0][0])
            if size + more > BATCH_BYTES:
                break
            batch.append(self._queue.popleft())
            size += more
        self._queued_bytes -= size
        return batch

    async def _send(self, batch: list[tuple[_Request, asyncio.Future[_Result] | None]]) -> None:
        try:
            try:
                outcomes = await self._send_batch([request for request, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every request of the batch fails with the call, never hangs
                outcomes = [exc] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future is None:
                    if isinstance(outcome, Exception):
                        self._failed(outcome)
                elif future.done():
                    continue  # its submitter was cancelled
                elif isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
        finally:
            self._in_flight -= 1
            self.unanswered -= len(batch)
            if self._waiters:
                self._wake_waiters()
            self._schedule(asyncio.get_running_loop())

    def _wake_waiters(self) -> None:
        still = []
        for at_most, waiter in self._waiters:
            if waiter.done():
                continue
            if self.unanswered <= at_most:
                waiter.set_result(None)
            else:
                still.append((at_most, waiter))
        self._waiters = still
