"""A sender's numbered PublishMany calls are applied in its order, whatever order they arrive in."""

from __future__ import annotations

import asyncio

from micro.node.pubsub.ordering import Sequencer

A, B = b"a" * 16, b"b" * 16


async def _apply(sequencer: Sequencer, sender: bytes, sequence: int, applied: list[tuple[bytes, int]]) -> None:
    await sequencer.turn(sender, sequence)
    applied.append((sender, sequence))
    sequencer.done(sender, sequence)


def test_calls_that_overtake_their_predecessors_wait_for_them() -> None:
    async def scenario() -> list[tuple[bytes, int]]:
        sequencer, applied = Sequencer(wait_s=30.0), []
        late = [asyncio.create_task(_apply(sequencer, A, n, applied)) for n in (3, 2, 4)]
        await asyncio.sleep(0)  # all three are held: call 1 has not come
        assert applied == []
        await _apply(sequencer, A, 1, applied)
        await asyncio.gather(*late)
        assert sequencer.overtaken == 3 and sequencer.gave_up == 0
        return applied

    assert asyncio.run(scenario()) == [(A, 1), (A, 2), (A, 3), (A, 4)]


def test_senders_are_ordered_each_on_its_own() -> None:
    async def scenario() -> list[tuple[bytes, int]]:
        sequencer, applied = Sequencer(wait_s=30.0), []
        held = asyncio.create_task(_apply(sequencer, A, 2, applied))
        await _apply(sequencer, B, 1, applied)
        await asyncio.sleep(0)
        assert applied == [(B, 1)]  # B is not held up by A's missing call
        await _apply(sequencer, A, 1, applied)
        await held
        return applied

    assert asyncio.run(scenario()) == [(B, 1), (A, 1), (A, 2)]


def test_a_call_whose_predecessor_never_comes_goes_after_the_wait() -> None:
    async def scenario() -> tuple[list[tuple[bytes, int]], int]:
        sequencer, applied = Sequencer(wait_s=0.05), []
        await asyncio.wait_for(_apply(sequencer, A, 2, applied), 30.0)
        await _apply(sequencer, A, 3, applied)  # in order after the one that went without call 1
        return applied, sequencer.gave_up

    assert asyncio.run(scenario()) == ([(A, 2), (A, 3)], 1)


def test_a_late_call_after_its_successors_went_is_applied_at_once() -> None:
    async def scenario() -> list[tuple[bytes, int]]:
        sequencer, applied = Sequencer(wait_s=0.05), []
        await _apply(sequencer, A, 2, applied)
        await asyncio.wait_for(_apply(sequencer, A, 1, applied), 30.0)
        return applied

    assert asyncio.run(scenario()) == [(A, 2), (A, 1)]


def test_senders_beyond_the_bound_are_forgotten_least_recently_used_first() -> None:
    async def scenario() -> int:
        sequencer, applied = Sequencer(wait_s=30.0, max_senders=2), []
        await _apply(sequencer, A, 1, applied)
        await _apply(sequencer, B, 1, applied)
        await _apply(sequencer, b"c" * 16, 1, applied)  # A, least recently used, is forgotten
        # A forgotten sender starts afresh at 1: its call 2 waits again (the wait shows it was forgotten).
        held = asyncio.create_task(_apply(sequencer, A, 2, applied))
        await asyncio.sleep(0)
        waiting = (A, 2) not in applied
        await _apply(sequencer, A, 1, applied)
        await held
        return waiting

    assert asyncio.run(scenario()) is True
