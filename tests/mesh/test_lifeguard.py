"""Lifeguard maths: dynamic suspicion timeouts and the local health multiplier."""

from __future__ import annotations

import pytest
from micro.mesh.awareness import Awareness
from micro.mesh.suspicion import Suspicion, remaining_suspicion_time, suspicion_bounds


@pytest.mark.parametrize(
    ("confirmations", "k", "elapsed", "minimum", "maximum", "expected"),
    [  # memberlist's suspicion_test.go table
        (0, 3, 0.0, 2.0, 30.0, 30.0),
        (1, 3, 2.0, 2.0, 30.0, 14.0),
        (2, 3, 3.0, 2.0, 30.0, 4.81),
        (3, 3, 4.0, 2.0, 30.0, -2.0),
        (4, 3, 5.0, 2.0, 30.0, -3.0),
        (5, 3, 10.0, 2.0, 30.0, -8.0),
        (0, 0, 1.0, 2.0, 30.0, 1.0),  # nothing to wait for: the minimum
    ],
)
def test_remaining_suspicion_time(
    confirmations: int, k: int, elapsed: float, minimum: float, maximum: float, expected: float
) -> None:
    assert remaining_suspicion_time(confirmations, k, elapsed, minimum, maximum) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("members", "expected"),
    [(1, (1.0, 4.0)), (10, (1.0, 4.0)), (100, (2.0, 8.0)), (1000, (3.0, 12.0))],
)
def test_suspicion_bounds_grow_with_log_of_the_mesh_size(members: int, expected: tuple[float, float]) -> None:
    assert suspicion_bounds(1.0, 4.0, members, 1.0) == pytest.approx(expected)


def test_independent_confirmations_shorten_the_deadline_repeats_do_not() -> None:
    s = Suspicion(b"a", start=100.0, k=3, minimum=2.0, maximum=30.0)
    assert s.deadline() == 130.0
    assert s.confirm(b"b")
    assert not s.confirm(b"b")
    assert not s.confirm(b"a")
    assert s.deadline() == pytest.approx(116.0)
    assert s.confirm(b"c") and s.confirm(b"d")
    assert not s.confirm(b"e")  # k reached
    assert s.deadline() == pytest.approx(102.0)


@pytest.mark.parametrize(
    ("deltas", "score", "scaled"),
    [([], 0, 0.5), ([1], 1, 1.0), ([3, -1], 2, 1.5), ([-5], 0, 0.5), ([100], 7, 4.0)],
)
def test_awareness_score_is_bounded_and_scales_timeouts(deltas: list[int], score: int, scaled: float) -> None:
    a = Awareness(max_multiplier=8)
    for d in deltas:
        a.apply_delta(d)
    assert a.score == score
    assert a.scale(0.5) == scaled
