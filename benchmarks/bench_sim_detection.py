"""Benchmark: failure-detection time and false deaths at 100 nodes with 1% loss, in simulation.

A converged 100-node mesh on the `lan` preset loses 1% of datagrams; 20 nodes crash at evenly spaced
times over 200 virtual seconds. For each crash we take the time until every live node has marked it
dead. Targets: p50 <= 5 s, p99 <= 8 s, zero false deaths. The baseline, run in the same process on the
same seed, is a memberlist-default-like configuration (suspicion_mult 4, suspicion_max_timeout_mult 6,
retransmit_mult 4; the rest already match memberlist's DefaultLANConfig), and the ratios ours/baseline
are printed. Prints one JSON object; exits 0 whether or not the targets are met.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from typing import Any

from micro.mesh.config import MeshConfig
from micro.simulations.scenario import Scenario, run_scenario

TARGET_P50 = 5.0
TARGET_P99 = 8.0


def _run(config: MeshConfig) -> tuple[dict[str, Any], float]:
    scenario = Scenario(nodes=100, duration=200.0, loss=0.01, seed=1, preset="lan", config=config,
                        crashes=20)
    started = time.perf_counter()
    report = run_scenario(scenario).to_json()
    return report, time.perf_counter() - started


def _ratio(ours: float | None, base: float | None) -> float | None:
    return round(ours / base, 3) if ours is not None and base else None


def main() -> int:
    ours, wall_ours = _run(MeshConfig.lan())
    memberlist_like = replace(MeshConfig.lan(), suspicion_mult=4.0, suspicion_max_timeout_mult=6.0,
                              retransmit_mult=4)
    base, wall_base = _run(memberlist_like)
    detection, base_detection = ours["detection_s"], base["detection_s"]
    result = {
        "benchmark": "sim_detection",
        "nodes": 100,
        "loss": 0.01,
        "virtual_s": 200.0,
        "detection_s": detection,
        "false_deaths": ours["false_deaths"],
        "baseline": {"config": "memberlist DefaultLANConfig-like: suspicion_mult 4, max_timeout_mult 6, "
                               "retransmit_mult 4",
                     "detection_s": base_detection, "false_deaths": base["false_deaths"]},
        "ratio_p50_to_baseline": _ratio(detection["p50"], base_detection["p50"]),
        "ratio_p99_to_baseline": _ratio(detection["p99"], base_detection["p99"]),
        "targets": {
            "p50_within_5s": bool(detection["undetected"] == 0 and detection["p50"] is not None
                                  and detection["p50"] <= TARGET_P50),
            "p99_within_8s": bool(detection["undetected"] == 0 and detection["p99"] is not None
                                  and detection["p99"] <= TARGET_P99),
            "zero_false_deaths": ours["false_deaths"] == 0,
        },
        "wall_s": round(wall_ours + wall_base, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
