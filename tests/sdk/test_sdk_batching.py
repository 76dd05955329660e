"""The SDK's batcher: concurrent requests share calls, a lone one goes at once, a trickle waits for the
call that is out, a backlog pipelines, and every request gets its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from micro.sdk.batching import BATCH_ITEMS, IN_FLIGHT, PIPELINE_BYTES, PIPELINE_ITEMS, Batcher


class _Node:
    """Records each call's batch; a call returns when the test releases it."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def send(self, batch: list[int]) -> Sequence[int | Exception]:
        self.calls.append(batch)
        await self.release.wait()
        return [ValueError(f"refused {n}") if n < 0 else n * 10 for n in batch]


def _batcher(node: _Node) -> Batcher[int, int]:
    return Batcher(node.send, lambda request: 1)


def test_requests_of_one_turn_share_one_call() -> None:
    async def scenario() -> tuple[list[int], list[list[int]]]:
        node = _Node()
        batcher = _batcher(node)
        results = await asyncio.gather(*(batcher.submit(n) for n in range(5)))
        return results, node.calls

    results, calls = asyncio.run(scenario())
    assert results == [0, 10, 20, 30, 40]
    assert calls == [[0, 1, 2, 3, 4]]


def test_a_request_refused_alone_fails_alone() -> None:
    async def scenario() -> list[int | BaseException]:
        batcher = _batcher(_Node())
        return await asyncio.gather(batcher.submit(1), batcher.submit(-1), batcher.submit(2), return_exceptions=True)

    first, refused, last = asyncio.run(scenario())
    assert (first, last) == (10, 20)
    assert isinstance(refused, ValueError)
    assert str(refused) == "refused -1"


def test_a_failed_call_fails_every_request_it_carried() -> None:
    async def failing(batch: list[int]) -> Sequence[int]:
        raise ConnectionError("node gone")

    async def scenario() -> list[int | BaseException]:
        batcher: Batcher[int, int] = Batcher(failing, lambda request: 1)
        return await asyncio.gather(*(batcher.submit(n) for n in range(3)), return_exceptions=True)

    assert all(isinstance(outcome, ConnectionError) for outcome in asyncio.run(scenario()))


async def _while_one_call_is_out(node: _Node, batcher: Batcher[int, int], requests: list[int]
                                 ) -> tuple[list[list[int]], list[int]]:
    """Submit 0, hold its call, submit `requests` in one turn: the batches sent while the first call
    was out, and every result once it is released."""
    node.release.clear()
    first = asyncio.ensure_future(batcher.submit(0))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(batcher.submit(n)) for n in requests]
    for _ in range(5):
        await asyncio.sleep(0)
    while_out = [list(call) for call in node.calls]
    node.release.set()
    return while_out, await asyncio.gather(first, *later)


def test_a_few_requests_wait_for_the_call_that_is_out_and_then_go_together() -> None:
    node = _Node()
    while_out, results = asyncio.run(_while_one_call_is_out(node, _batcher(node), [1, 2, 3]))
    assert while_out == [[0]]
    assert node.calls == [[0], [1, 2, 3]]
    assert results == [0, 10, 20, 30]


def test_a_backlog_starts_more_calls_alongside_up_to_the_limit() -> None:
    node = _Node()
    backlog = list(range(1, 1 + IN_FLIGHT * BATCH_ITEMS))
    while_out, results = asyncio.run(_while_one_call_is_out(node, _batcher(node), backlog))
    assert len(while_out) == IN_FLIGHT
    assert results == [n * 10 for n in [0, *backlog]]
    assert max(len(call) for call in node.calls) <= BATCH_ITEMS


@pytest.mark.parametrize("backlog", [PIPELINE_ITEMS - 1, PIPELINE_ITEMS])
def test_another_call_starts_beside_one_out_only_from_the_pipeline_threshold(backlog: int) -> None:
    node = _Node()
    while_out, _ = asyncio.run(_while_one_call_is_out(node, _batcher(node), list(range(1, 1 + backlog))))
    assert len(while_out) == (1 if backlog < PIPELINE_ITEMS else 2)


def test_a_large_request_alone_starts_another_call_by_its_bytes() -> None:
    node = _Node()
    batcher: Batcher[int, int] = Batcher(node.send, lambda request: PIPELINE_BYTES if request else 1)
    while_out, _ = asyncio.run(_while_one_call_is_out(node, batcher, [1]))
    assert while_out == [[0], [1]]


def test_posted_requests_are_counted_until_answered_and_waited_for() -> None:
    async def scenario() -> tuple[int, bool, int, list[int]]:
        node = _Node()
        batcher = _batcher(node)
        node.release.clear()
        for n in range(3):
            batcher.post(n)
        futures = [asyncio.ensure_future(batcher.submit(n)) for n in (3, 4)]
        await asyncio.sleep(0)
        queued = batcher.unanswered
        waiting = asyncio.ensure_future(batcher.answered())
        for _ in range(5):
            await asyncio.sleep(0)
        early = waiting.done()
        node.release.set()
        await waiting
        return queued, early, batcher.unanswered, [f.result() for f in futures]

    queued, early, after, results = asyncio.run(scenario())
    assert (queued, early, after) == (5, False, 0)
    assert results == [30, 40]


def test_a_posted_request_that_fails_is_told_to_the_failure_handler() -> None:
    async def scenario() -> list[str]:
        failures: list[str] = []
        batcher: Batcher[int, int] = Batcher(_Node().send, lambda request: 1, lambda error: failures.append(str(error)))
        for n in (1, -2, 3):
            batcher.post(n)
        await batcher.answered()
        return failures

    assert asyncio.run(scenario()) == ["refused -2"]
