"""Benchmark: simulate 10,000 nodes for 60 virtual seconds and time it.

The default scenario (converged start from one shared snapshot, a rumour every 2 s, 100 crashes) at
10,000 nodes on the `lan` preset. Target: at most 120 s of wall time. The baseline measured in the same
run is the same scenario at 1,000 nodes, so the printed per-node cost ratio shows how the simulator
scales (1.0 = linear). Wall time is measured here only; the simulator's own JSON never holds it. Pass
`--profile` to print the 25 most expensive functions (cProfile) to stderr. Prints one JSON object;
exits 0 whether or not the target is met.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import time
from typing import Any

from micro.simulations.scenario import Scenario, run_scenario

TARGET_WALL = 120.0
VIRTUAL = 60.0


def _timed(nodes: int, profile: bool) -> tuple[dict[str, Any], float]:
    scenario = Scenario(nodes=nodes, duration=VIRTUAL, seed=1, preset="lan")
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = run_scenario(scenario).to_json()
    if profiler is not None:
        profiler.disable()
    wall = time.perf_counter() - started
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    return report, wall


def main() -> int:
    profile = "--profile" in sys.argv[1:]
    _, small_wall = _timed(1000, False)
    big, big_wall = _timed(10_000, profile)
    result = {
        "benchmark": "sim_scale",
        "nodes": 10_000,
        "virtual_s": VIRTUAL,
        "wall_s": round(big_wall, 1),
        "wall_per_virtual_s": round(big_wall / VIRTUAL, 3),
        "baseline_1000_nodes": {"wall_s": round(small_wall, 1),
                                "wall_per_virtual_s": round(small_wall / VIRTUAL, 3)},
        "per_node_cost_ratio_10000_vs_1000": round((big_wall / 10_000) / (small_wall / 1000), 3),
        "report": {k: big[k] for k in ("dissemination_s", "detection_s", "false_deaths",
                                       "bytes_per_node_per_s", "converged", "convergence_observers",
                                       "packets_sent")},
        "targets": {"wall_within_120s": big_wall <= TARGET_WALL},
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
