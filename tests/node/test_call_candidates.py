"""The order in which a call tries a service's instances (`node/calls/candidates.py`), on an explicit
clock: healthy local ones first, healthy remote ones round robin, unreachable ones last until their
mark lapses."""

from __future__ import annotations

import pytest
from micro.node.calls.candidates import UNHEALTHY_S, CallOrder, Candidate


def _candidates(spec: str) -> list[Candidate[str]]:
    """"L1 R1 R2": an instance per word, local (L) or remote (R), its word being its id and item."""
    return [Candidate(word, word.startswith("L"), word) for word in spec.split()]


# (instances, those marked unreachable, the order of the first call)
ORDERS = [
    pytest.param("R1 L1 R2", "", ["L1", "R1", "R2"], id="local first, then remote"),
    pytest.param("L1 L2", "", ["L1", "L2"], id="only local ones, as registered"),
    pytest.param("R1 L1 R2", "L1", ["R1", "R2", "L1"], id="an unreachable local one goes last"),
    pytest.param("R1 R2 R3", "R1", ["R2", "R3", "R1"], id="an unreachable remote one goes last"),
    pytest.param("R1 R2", "R2 R1", ["R1", "R2"], id="all unreachable: tried anyway, as registered"),
    pytest.param("", "", [], id="none"),
]


@pytest.mark.parametrize(("instances", "unreachable", "order"), ORDERS)
def test_a_call_tries_healthy_local_then_healthy_remote_then_unreachable_instances(
        instances: str, unreachable: str, order: list[str]) -> None:
    calls = CallOrder()
    for instance in unreachable.split():
        calls.unreachable(instance, now=0.0)
    assert calls.order("svc", _candidates(instances), now=1.0) == order


def test_successive_calls_start_at_the_next_remote_instance() -> None:
    calls = CallOrder()
    firsts = [calls.order("svc", _candidates("L1 R1 R2 R3"), now=0.0)[1] for _ in range(4)]
    assert firsts == ["R1", "R2", "R3", "R1"]
    assert calls.order("svc", _candidates("L1 R1 R2 R3"), now=0.0) == ["L1", "R2", "R3", "R1"]


def test_each_service_has_its_own_turn_and_calls_without_remote_ones_take_none() -> None:
    calls = CallOrder()
    assert calls.order("a", _candidates("R1 R2"), now=0.0) == ["R1", "R2"]
    assert calls.order("b", _candidates("R1 R2"), now=0.0) == ["R1", "R2"]
    assert calls.order("a", _candidates("L1"), now=0.0) == ["L1"]
    assert calls.order("a", _candidates("R1 R2"), now=0.0) == ["R2", "R1"]


@pytest.mark.parametrize(("now", "order"), [(UNHEALTHY_S - 0.1, ["R2", "R1"]), (UNHEALTHY_S, ["R1", "R2"])])
def test_an_unreachable_mark_lapses_after_unhealthy_s(now: float, order: list[str]) -> None:
    calls = CallOrder()
    calls.unreachable("R1", now=0.0)
    assert calls.order("svc", _candidates("R1 R2"), now=now) == order


def test_a_forgotten_instance_loses_its_mark() -> None:
    calls = CallOrder()
    calls.unreachable("L1", now=0.0)
    calls.forget("L1")
    assert calls.order("svc", _candidates("R1 L1"), now=1.0) == ["L1", "R1"]


def test_marking_again_starts_the_mark_over() -> None:
    calls = CallOrder()
    calls.unreachable("R1", now=0.0)
    calls.unreachable("R1", now=4.0)
    assert calls.order("svc", _candidates("R1 R2"), now=UNHEALTHY_S + 1.0) == ["R2", "R1"]
