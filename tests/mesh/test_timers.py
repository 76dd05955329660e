"""The core's deadlines: named and keyed ones come out earliest first, ties in the order they were set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from micro.mesh.timers import KEYED, NOTHING_DUE, Deadlines

NAMED = 3
KEYS = [("suspect", b"a"), ("suspect", b"b"), ("reap", b"a")]


class Reference:
    """The same contract, kept the obvious way: every pending deadline with the order it was last set in."""

    def __init__(self) -> None:
        self.pending: dict[object, tuple[float, int]] = {}
        self.order = 0

    def set(self, key: object, deadline: float) -> None:
        if key in self.pending and self.pending[key][0] == deadline:
            return
        self.order += 1
        self.pending[key] = (deadline, self.order)

    def cancel(self, key: object) -> None:
        self.pending.pop(key, None)

    def earliest(self) -> float | None:
        return min((d for d, _ in self.pending.values()), default=None)

    def pop_due(self, now: float) -> object | None:
        if not self.pending:
            return None
        key, (deadline, _) = min(self.pending.items(), key=lambda item: item[1])
        if deadline > now:
            return None
        del self.pending[key]
        return key


def pop(deadlines: Deadlines, now: float) -> object:
    due = deadlines.pop_due(now)
    if due == NOTHING_DUE:
        return None
    return deadlines.pop_keyed() if due == KEYED else due


operations = st.lists(
    st.tuples(st.sampled_from(["set", "cancel", "pop"]), st.integers(0, NAMED + len(KEYS) - 1),
              st.integers(0, 6).map(float)),
    max_size=60,
)


@settings(max_examples=500)
@given(operations)
def test_deadlines_come_out_as_from_one_ordered_set(ops: list[tuple[str, int, float]]) -> None:
    deadlines, reference = Deadlines(NAMED), Reference()
    for op, index, value in ops:
        key: object = index if index < NAMED else KEYS[index - NAMED]
        if op == "set":
            reference.set(key, value)
            if isinstance(key, int):
                deadlines.set(key, value)
            else:
                deadlines.set_keyed(key, value)
        elif op == "cancel":
            reference.cancel(key)
            if isinstance(key, int):
                deadlines.cancel(key)
            else:
                deadlines.cancel_keyed(key)
        else:
            assert pop(deadlines, value) == reference.pop_due(value)
        assert deadlines.earliest() == reference.earliest()
        for slot in range(NAMED):
            assert deadlines.get(slot) == (reference.pending[slot][0] if slot in reference.pending else None)


def test_an_unset_deadline_is_none_and_nothing_is_due() -> None:
    deadlines = Deadlines(2)
    assert deadlines.get(0) is None
    assert deadlines.earliest() is None
    assert deadlines.pop_due(1e9) == NOTHING_DUE


def test_of_equal_deadlines_the_one_set_first_is_due_first_named_or_keyed() -> None:
    deadlines = Deadlines(2)
    deadlines.set(1, 5.0)
    deadlines.set_keyed(("reap", b"x"), 5.0)
    deadlines.set(0, 5.0)
    assert [pop(deadlines, 5.0) for _ in range(4)] == [1, ("reap", b"x"), 0, None]


def test_moving_the_earliest_deadline_later_lets_the_next_one_come_first() -> None:
    deadlines = Deadlines(2)
    deadlines.set(0, 1.0)
    deadlines.set(1, 2.0)
    assert deadlines.earliest() == 1.0
    deadlines.set(0, 3.0)
    assert deadlines.earliest() == 2.0
    assert pop(deadlines, 10.0) == 1
    deadlines.cancel(0)
    assert deadlines.earliest() is None
