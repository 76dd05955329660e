"""Membership through the simulator: joining, partitions healing, slow nodes, crashes."""

from __future__ import annotations

import pytest
from sim_helpers import assert_everyone_sees_all_alive, build


@pytest.mark.parametrize("loss", [0.0, 0.1])
def test_200_nodes_joining_a_few_seeds_converge(loss: float) -> None:
    sim, recorder = build(200, loss=loss, start="join")
    # Gossip reaches almost everyone within seconds; the last few views are repaired by push-pull,
    # whose period lan() stretches to ~120 s at 200 nodes (as memberlist does), so allow one period.
    sim.run_until(130.0)
    assert len(sim.live()) == 200
    assert_everyone_sees_all_alive(sim, lossy=loss > 0)
    if loss == 0:
        assert recorder.false_deaths == []


def test_a_30_second_partition_heals_into_one_membership_without_rejoining() -> None:
    sim, recorder = build(60, seed=11)
    half = 30
    sim.partition([range(half), range(half, 60)], start=5.0, end=35.0)
    sim.run_until(34.0)
    # While cut, each side has declared the other side dead.
    assert recorder.partition_deaths > 0
    sim.run_until(95.0)
    assert_everyone_sees_all_alive(sim)
    assert recorder.false_deaths == []
    assert sim.generations == [1] * 60  # nobody restarted or re-joined


def test_slow_nodes_are_not_declared_dead() -> None:
    sim, recorder = build(100, seed=5, slow=0.1)
    assert len(sim.network.slow) == 10
    sim.run_until(60.0)
    assert recorder.false_deaths == []
    assert_everyone_sees_all_alive(sim, lossy=True)


def test_a_crashed_node_is_detected_by_every_live_node() -> None:
    sim, recorder = build(50, seed=3)
    sim.crash(17, at=5.0)
    sim.run_until(35.0)
    report = recorder.report(35.0)
    detection = report.summary["detection_s"]
    assert detection["crashes"] == 1 and detection["undetected"] == 0
    assert detection["max"] < 15.0
    assert report.summary["false_deaths"] == 0
    assert_everyone_sees_all_alive(sim)


def test_a_left_node_is_not_counted_as_a_death() -> None:
    sim, recorder = build(30, seed=4)
    sim.leave(9, at=3.0)
    sim.run_until(20.0)
    assert sim.cores[9] is None
    assert recorder.false_deaths == []
    assert_everyone_sees_all_alive(sim)


def test_a_restarted_node_rejoins_in_its_next_generation() -> None:
    sim, recorder = build(30, seed=6)
    sim.crash(4, at=2.0)
    sim.restart(4, at=20.0, seeds=[0])
    sim.run_until(40.0)
    assert sim.generations[4] == 2
    assert_everyone_sees_all_alive(sim)
    assert recorder.false_deaths == []
