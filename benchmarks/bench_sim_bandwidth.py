"""Benchmark: gossip bandwidth per node in a 1,000-node mesh, in simulation.

The default scenario (a rumour every 2 s, 10 crashes) at 1,000 nodes on the `lan` preset, run for one
full push-pull period as the core stretches it for 1,000 nodes (memberlist's scaling: 30 s times 6), so
every node takes part in about two anti-entropy exchanges. Every packet is counted at its encoded size
plus the wire's frame overhead (its upper bound). Target: at most 1 KB/s sent per node, judged on the
default scenario. The same run without rumours (membership traffic only: probes, crashes, push-pull) is
printed beside it, with the share of bytes that is frame overhead, to show where the bytes go.

Baseline, measured in the same run: the core has no switch that makes push-pull ship the full state, so
the baseline is computed, not simulated. It keeps the datagram traffic this run measured (probes, acks,
gossip) and replaces our push-pull bytes with memberlist's: each exchange ships the whole member list in
both directions, once per scaled interval per node, so each node sends 2 * N * (one member entry) per
interval. The entry is sized as our own signed alive claim (same data as ours), encoded by the real codec.
Prints one JSON object; exits 0 whether or not the target is met.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import replace
from typing import Any

from micro.mesh.codec import encoded_size
from micro.mesh.trust import sign_alive
from micro.simulations.crypto import SimRegistry
from micro.simulations.engine import PACKET_OVERHEAD, node_address
from micro.simulations.scenario import Scenario, run_scenario

NODES = 1000
TARGET_BYTES = 1024.0


def memberlist_push_pull_interval(base: float, nodes: int) -> float:
    """memberlist's pushPullScale: the base interval times ceil(log2(n) - log2(32)) + 1 above 32 nodes."""
    if nodes <= 32:
        return base
    return base * (math.ceil(math.log2(nodes) - math.log2(32)) + 1)


def _frame_overhead_share(report: dict[str, Any]) -> float:
    total = report["bytes_sent"]
    return round(report["packets_sent"] * PACKET_OVERHEAD / total, 3) if total else 0.0


def main() -> int:
    interval = memberlist_push_pull_interval(30.0, NODES)
    scenario = Scenario(nodes=NODES, duration=interval, seed=1, preset="lan")
    started = time.perf_counter()
    report = run_scenario(scenario).to_json()
    idle = run_scenario(replace(scenario, rumour_interval=None)).to_json()
    wall = time.perf_counter() - started

    ours = report["bytes_per_node_per_s"]
    datagrams = ours - report["reliable_bytes_per_node_per_s"]
    entry = encoded_size([sign_alive(SimRegistry(1).enroll(0), node_address(0), 1, 0)])
    full_state = 2 * NODES * entry / interval
    baseline = datagrams + full_state
    result = {
        "benchmark": "sim_bandwidth",
        "nodes": NODES,
        "virtual_s": interval,
        "bytes_per_node_per_s": ours,
        "of_which_push_pull_bytes_per_node_per_s": report["reliable_bytes_per_node_per_s"],
        "frame_overhead_share": _frame_overhead_share(report),
        "rumours": report["rumour_reach_s"]["rumours"],
        "without_rumours": {"bytes_per_node_per_s": idle["bytes_per_node_per_s"],
                            "frame_overhead_share": _frame_overhead_share(idle)},
        "baseline": {
            "kind": "computed (the core has no full-state push-pull switch): this run's datagram bytes "
                    "plus memberlist-style full-state push-pull of the same member entries",
            "member_entry_bytes": entry,
            "push_pull_interval_s": interval,
            "bytes_per_node_per_s": round(baseline, 3),
        },
        "ratio_to_baseline": round(ours / baseline, 3) if baseline else None,
        "targets": {"within_1KB_per_s": ours <= TARGET_BYTES},
        "wall_s": round(wall, 1),
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
