"""Benchmark: how soon every replica of a 1,000-node mesh is identical after a burst of key-value writes.

A converged 1,000-node mesh on the `lan` preset (no loss, no crashes) takes 200 writes over 100 keys on
random nodes within one virtual second. `kv_convergence_s` is the time from the last write until every
live replica holds the same map (equal root hashes). Target: within 3 s of virtual time. The baseline,
run in the same process on the same burst, is the mesh with the settle-time map comparison turned off
(`kv_sync_peers=0`): gossip plus periodic push-pull only, which is what the comparison is there to beat.
Prints one JSON object; exits 0 whether or not the target is met.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from micro.mesh.config import MeshConfig
from micro.simulations.scenario import Scenario, run_scenario

TARGET = 3.0
DURATION = 15.0


def _run(config: MeshConfig) -> tuple[dict[str, Any], float]:
    scenario = Scenario(nodes=1000, duration=DURATION, seed=1, preset="lan", config=config, crashes=0,
                        rumour_interval=None, kv_writes=200.0, kv_window=1.0)
    started = time.perf_counter()
    report = run_scenario(scenario).to_json()
    return report, time.perf_counter() - started


def main() -> int:
    report, wall = _run(MeshConfig.lan())
    baseline, _ = _run(replace(MeshConfig.lan(), kv_sync_peers=0))
    converged = report["kv_convergence_s"]
    plain = baseline["kv_convergence_s"]
    result = {
        "benchmark": "sim_kv_convergence",
        "nodes": 1000,
        "writes": report["kv_writes"],
        "kv_convergence_s": converged,
        "baseline_without_settle_sync": {
            "kv_convergence_s": plain,
            "note": f"None = not identical within {DURATION - 2:g} s of the last write",
        },
        "ratio_to_baseline": round(converged / plain, 3) if converged is not None and plain else None,
        "bytes_per_node_per_s": report["bytes_per_node_per_s"],
        "targets": {"identical_within_3s": converged is not None and converged <= TARGET},
        "wall_s": round(wall, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
