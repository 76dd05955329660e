"""The shared key-value map in the simulator: partitions, loss, skewed clocks, and convergence time."""

from __future__ import annotations

import random

from micro.mesh.kvmap import key_id
from micro.simulations.engine import Simulation
from micro.simulations.metrics import Recorder
from micro.simulations.scenario import Scenario, run_scenario
from sim_helpers import build


def writes(rng: random.Random, nodes: list[int], start: float, end: float, count: int, keys: int = 40):
    return sorted((rng.uniform(start, end), rng.choice(nodes), f"key/{rng.randrange(keys)}", rng.randbytes(8))
                  for _ in range(count))


def assert_no_acknowledged_write_vanished(sim: Simulation, recorder: Recorder) -> None:
    """Every acknowledged register is held by every live replica, or superseded by a higher stamp."""
    assert recorder.kv_acked
    for node in sim.live():
        core = sim.cores[node]
        assert core is not None
        for acked in recorder.kv_acked:
            held = core._kv.map.get(key_id(acked.db, acked.table, acked.key))
            assert held is not None and held.stamp >= acked.stamp, f"node {node} lost {acked.key}"


def test_writes_on_both_sides_of_a_partition_merge_when_it_heals() -> None:
    sim, recorder = build(40, seed=3)
    left, right = list(range(20)), list(range(20, 40))
    sim.partition([left, right], 5.0, 35.0)
    rng = random.Random(3)
    recorder.inject_kv_writes(writes(rng, left, 6.0, 30.0, 150) + writes(rng, right, 6.0, 30.0, 150))
    sim.run_until(90.0)
    assert len({sim.cores[i].kv_root for i in sim.live()}) == 1
    assert_no_acknowledged_write_vanished(sim, recorder)


def test_replicas_converge_under_ten_percent_loss() -> None:
    sim, recorder = build(60, seed=5, loss=0.1)
    recorder.inject_kv_writes(writes(random.Random(5), list(range(60)), 1.0, 6.0, 200))
    sim.run_until(20.0)
    assert recorder.kv_converged_at is not None
    assert_no_acknowledged_write_vanished(sim, recorder)


def test_a_clock_five_minutes_ahead_does_not_stop_later_writes_from_winning() -> None:
    sim, recorder = build(10, seed=9)
    sim.network.skew[0] = 300.0 - 0.01
    sim.kv_put(0, "k", b"future", 1.0, acked=recorder.kv_acked.append)
    sim.kv_put(5, "k", b"after-reading", 3.0, acked=recorder.kv_acked.append)
    sim.run_until(6.0)
    values = {sim.cores[i].kv_get("sim", "kv", "k", sim.core_now(i)).value for i in sim.live()}
    assert values == {b"after-reading"}


def test_the_scenario_reports_kv_convergence_after_the_last_write() -> None:
    report = run_scenario(Scenario(nodes=100, duration=20.0, seed=2, kv_writes=20.0)).to_json()
    assert report["kv_writes"] > 0
    assert 0 <= report["kv_convergence_s"] < 5.0
