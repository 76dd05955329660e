"""Hybrid logical clock: monotonic, causal, bounded drift."""

from __future__ import annotations

import pytest
from micro.mesh import HLC, ClockDriftExceeded, Timestamp

ME, OTHER = b"m" * 32, b"o" * 32


@pytest.mark.parametrize(
    ("physical", "expected"),
    [
        ([100], [(100, 0)]),
        ([100, 100, 100], [(100, 0), (100, 1), (100, 2)]),
        ([100, 101], [(100, 0), (101, 0)]),
        ([100, 90, 95, 120], [(100, 0), (100, 1), (100, 2), (120, 0)]),  # physical clock went backwards
    ],
)
def test_now_follows_the_physical_clock_and_counts_while_it_stands_still_or_goes_back(
        physical: list[int], expected: list[tuple[int, int]]) -> None:
    clock = HLC(ME)
    assert [tuple(clock.now(p))[:2] for p in physical] == expected


@pytest.mark.parametrize(
    ("local", "remote", "physical", "expected"),
    [
        ((100, 0), (50, 3), 100, (100, 2)),  # local ahead (local was (100,1) after now(100) twice)
        ((100, 0), (200, 3), 150, (200, 4)),  # remote ahead of everything
        ((100, 0), (100, 7), 90, (100, 8)),  # same physical: max logical + 1
        ((100, 0), (50, 0), 300, (300, 0)),  # physical clock ahead of both
    ],
)
def test_a_received_stamp_moves_the_clock_past_the_highest_of_local_remote_and_physical(
    local: tuple[int, int], remote: tuple[int, int], physical: int, expected: tuple[int, int]
) -> None:
    clock = HLC(ME)
    clock.now(local[0])
    clock.now(local[0])
    stamp = clock.update(Timestamp(*remote, OTHER), physical)
    assert (stamp.physical_ms, stamp.logical) == expected and stamp.node_id == ME
    assert clock.now(physical) > stamp


def test_stamps_far_in_the_future_are_refused_and_leave_the_clock_alone() -> None:
    clock = HLC(ME, max_drift_ms=1000)
    before = clock.now(5000)
    with pytest.raises(ClockDriftExceeded) as raised:
        clock.update(Timestamp(7000, 0, OTHER), 5000)
    assert raised.value.code == "FAILED_PRECONDITION"
    assert clock.now(5000) == Timestamp(before.physical_ms, before.logical + 1, ME)


def test_ties_break_on_node_id() -> None:
    assert Timestamp(1, 0, ME) < Timestamp(1, 0, OTHER)
