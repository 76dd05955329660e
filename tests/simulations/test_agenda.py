"""The engine's agenda hands entries out exactly as one binary heap over all of them would."""

from __future__ import annotations

import heapq
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from micro.simulations.agenda import Agenda

# A step pushes an entry `amount` seconds after the last popped time, or pops all up to `amount` ahead.
_steps = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.floats(min_value=0.0, max_value=0.05)),
        st.tuples(st.just("pop"), st.floats(min_value=0.0, max_value=0.05)),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(_steps, st.sampled_from([0.0005, 0.001, 0.01]))
def test_entries_come_out_in_time_then_push_order_like_a_heap(steps: list[tuple[str, float]], width: float) -> None:
    agenda, heap = Agenda(width), []
    seq = itertools.count()
    now = 0.0
    for op, amount in steps:
        if op == "push":
            entry = (now + amount, next(seq), 0, 0, None)
            agenda.push(entry)
            heapq.heappush(heap, entry)
        else:
            end = now + amount
            while (entry := agenda.pop_until(end)) is not None:
                assert entry == heapq.heappop(heap)
                now = entry[0]
            assert not heap or heap[0][0] > end
    assert len(agenda) == len(heap)
    drained = []
    while (entry := agenda.pop_until(float("inf"))) is not None:
        drained.append(entry)
    assert drained == sorted(heap)


def test_an_entry_earlier_than_the_slot_being_run_still_comes_out_first() -> None:
    agenda = Agenda(0.001)
    agenda.push((0.0105, 0, 0, 0, "later"))
    agenda.push((0.0101, 1, 0, 0, "first"))
    assert agenda.pop_until(0.0102) == (0.0101, 1, 0, 0, "first")
    agenda.push((0.0050, 2, 0, 0, "earlier"))  # before the slot now being run
    assert agenda.pop_until(1.0) == (0.0050, 2, 0, 0, "earlier")
    assert agenda.pop_until(1.0) == (0.0105, 0, 0, 0, "later")
    assert agenda.pop_until(1.0) is None
