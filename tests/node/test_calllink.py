"""Unary calls multiplexed on one stream (`node/calllink.py`): a real grpc.aio server in this process
serves a link with `serve_link`, and `CallLink` clients call it over 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
import pytest_asyncio
from micro.node.api.calllink import CallLink, batched, serve_link
from micro.node.api.proto import node_pb2
from node_harness import PATIENCE, until

pytestmark = pytest.mark.asyncio

_METHOD = "/test.Link/Call"


class Callee:
    """A server whose handler sleeps for the seconds the payload names, then answers `done:<payload>`;
    payload `fail` raises. It notes the calls that were cancelled and the time left each was given."""

    def __init__(self) -> None:
        self.cancelled: list[bytes] = []
        self.time_left: list[float | None] = []
        self.started = asyncio.Event()
        self.batches_in: list[int] = []
        self.batches_out: list[int] = []
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def handle(self, payload: bytes, time_left: float | None) -> bytes:
        self.time_left.append(time_left)
        self.started.set()
        if payload == b"fail":
            raise LookupError("no such thing")
        if payload.startswith(b"big"):
            return payload
        try:
            await asyncio.sleep(float(payload))
        except asyncio.CancelledError:
            self.cancelled.append(payload)
            raise
        return b"done:" + payload

    @staticmethod
    def status(exc: Exception) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
        return grpc.StatusCode.NOT_FOUND, str(exc), (("micro-error", '{"id": "test"}'),)

    async def start(self, port: int = 0) -> None:
        async def link(batches: AsyncIterator[node_pb2.LinkBatch], context: Any) -> None:
            async def counted() -> AsyncIterator[node_pb2.LinkBatch]:
                async for batch in batches:
                    self.batches_in.append(len(batch.frames))
                    yield batch

            async def write(batch: node_pb2.LinkBatch) -> None:
                self.batches_out.append(len(batch.frames))
                await context.write(batch)

            await serve_link(counted(), batched(write), self.handle, self.status)

        async def stall(batches: AsyncIterator[node_pb2.LinkBatch], context: Any) -> None:
            await asyncio.sleep(30)  # reads nothing: the caller's writes wait for flow control

        def handler(serve: Any) -> grpc.RpcMethodHandler:
            return grpc.stream_stream_rpc_method_handler(
                serve, request_deserializer=node_pb2.LinkBatch.FromString,
                response_serializer=node_pb2.LinkBatch.SerializeToString)

        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Link", {
            "Call": handler(link), "Stall": handler(stall)}),))
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()

    async def stop(self) -> None:
        assert self.server is not None
        await self.server.stop(grace=None)


@pytest_asyncio.fixture
async def callee() -> AsyncIterator[Callee]:
    server = Callee()
    await server.start()
    yield server
    await server.stop()


@pytest_asyncio.fixture
async def link(callee: Callee) -> AsyncIterator[CallLink]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{callee.port}") as channel:
        caller = CallLink(channel.stream_stream(_METHOD, request_serializer=node_pb2.LinkBatch.SerializeToString,
                                                response_deserializer=node_pb2.LinkBatch.FromString))
        yield caller
        await caller.close()


async def test_concurrent_calls_each_get_their_own_answer_as_soon_as_it_is_ready(link: CallLink) -> None:
    finished: list[bytes] = []

    async def call(payload: bytes) -> None:
        finished.append(await link.call(payload, 5.0))

    await asyncio.gather(call(b"0.3"), call(b"0"), call(b"0.1"))

    assert finished == [b"done:0", b"done:0.1", b"done:0.3"]


async def test_calls_made_together_share_a_batch_each_way(link: CallLink, callee: Callee) -> None:
    payloads = [b"0" * n for n in range(1, 11)]  # each sleeps 0 s, answered in one turn

    answers = await asyncio.gather(*(link.call(p, 5.0) for p in payloads))

    assert answers == [b"done:" + p for p in payloads]
    # The first frame goes at once on its own, those sent while it is written together; the answers
    # to the calls of one batch are ready in one turn of the loop, so they go likewise.
    assert sum(callee.batches_in) == 10 and len(callee.batches_in) <= 2
    assert sum(callee.batches_out) == 10 and len(callee.batches_out) <= 3


async def test_calls_larger_together_than_a_grpc_message_each_get_their_answer(link: CallLink) -> None:
    payloads = [b"big" + bytes([n]) * (900 * 1024) for n in range(6)]  # 5.4 MB in all; 4 MiB per message

    answers = await asyncio.gather(*(link.call(p, 10.0) for p in payloads))

    assert answers == payloads


async def test_a_call_out_of_time_while_its_frame_is_written_leaves_the_other_calls_alone(link: CallLink) -> None:
    other = asyncio.create_task(link.call(b"0.3", 5.0))
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await link.call(b"big" + bytes(3 * 1024 * 1024), 0.001)

    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert await other == b"done:0.3"


async def test_closing_a_link_fails_every_call_waiting_on_it_written_or_not(callee: Callee) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{callee.port}") as channel:
        link = CallLink(channel.stream_stream("/test.Link/Stall", request_serializer=node_pb2.LinkBatch.SerializeToString,
                                              response_deserializer=node_pb2.LinkBatch.FromString))
        waiting = [asyncio.create_task(link.call(bytes(1024 * 1024), None)) for _ in range(9)]
        # Some frames written, the rest held back by flow control (how many depends on the machine).
        await asyncio.sleep(0.3)

        await link.close()
        async with asyncio.timeout(PATIENCE):
            outcomes = await asyncio.gather(*waiting, return_exceptions=True)

    assert all(isinstance(o, grpc.aio.AioRpcError) for o in outcomes)


async def test_a_failed_call_raises_the_status_the_callee_gave_it(link: CallLink) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await link.call(b"fail", 5.0)

    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
    assert failed.value.details() == "no such thing"
    assert tuple(failed.value.trailing_metadata()) == (("micro-error", '{"id": "test"}'),)
    assert await link.call(b"0", 5.0) == b"done:0"  # the link goes on


async def test_the_callers_timeout_is_the_callees_time_left(link: CallLink, callee: Callee) -> None:
    await link.call(b"0", 2.5)
    await link.call(b"0", None)

    assert callee.time_left == [2.5, None]


async def test_a_call_out_of_time_is_deadline_exceeded_and_stopped_at_the_callee(link: CallLink,
                                                                                 callee: Callee) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await link.call(b"10", 0.2)

    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await until(lambda: callee.cancelled == [b"10"], PATIENCE, "the callee to cancel the call")


async def test_a_cancelled_caller_stops_the_call_at_the_callee(link: CallLink, callee: Callee) -> None:
    waiting = asyncio.create_task(link.call(b"10", None))
    await callee.started.wait()
    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting
    await until(lambda: callee.cancelled == [b"10"], PATIENCE, "the callee to cancel the call")


async def test_a_lost_callee_fails_waiting_calls_unavailable_and_a_later_call_opens_a_new_stream(
        link: CallLink, callee: Callee) -> None:
    waiting = asyncio.create_task(link.call(b"10", None))
    await callee.started.wait()
    await callee.stop()

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await waiting
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE

    await callee.start(callee.port)
    assert await link.call(b"0", 5.0) == b"done:0"
