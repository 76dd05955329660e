"""Benchmark: a service call routed through the mesh against a direct grpc.aio call to the same instance.

Two nodes A and C (`micro node start --profile local` on 127.0.0.1, joined); examples/helloworld runs next
to C. Three ways of calling `Helloworld.Call` from this process, measured in the same run:

- direct: grpc.aio unary calls straight to the instance on its unix socket in C's data dir (a pre-built
  JSON body on one open channel) — the baseline, and the limit;
- one hop: `micro.sdk.Client` through C's local API (C calls its own instance);
- two hops: `micro.sdk.Client` through A's local API: A forwards over the peer link to C, which calls the
  instance (the path of a call to a service on another machine).

Throughput: direct and two-hop calls at `--concurrency`, interleaved in rounds so both see the same
machine load; target two-hop rps >= 0.5 x direct rps. Latency: calls one at a time, the three ways
interleaved; the median added per hop is (two-hop median - direct median) / 2 (the client -> A and
A -> C hops); target <= 0.5 ms. The CPU time per call of each node process is reported too: unlike
rates, it hardly moves with the machine's load. Prints one JSON object; exits 0 whether or not the
targets are met.

    python benchmarks/bench_calls.py [--concurrency 16] [--seconds 1.5] [--rounds 4] [--samples 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from load import Phase, load
from micro.node.api.proto.node_pb2 import ServicesRequest
from micro.node.api.proto.node_pb2_grpc import NodeStub
from micro.sdk import Client
from processes import MicroMesh, wait_for

TARGET_RATIO = 0.5
TARGET_HOP_MS = 0.5
HELLOWORLD = Path(__file__).resolve().parents[1] / "examples" / "helloworld" / "main.py"
_METHOD = "/Helloworld/Call"
_REQUEST = {"name": "bench"}
_BODY = json.dumps(_REQUEST).encode()
_REPLY = {"msg": "Hello bench"}


def _instance_address(data_dir: Path) -> str:
    """The address of the helloworld instance, once the node of `data_dir` lists it ("" before)."""
    with grpc.insecure_channel(f"unix:{data_dir / 'node.sock'}") as channel:
        reply = NodeStub(channel).Services(ServicesRequest(service="helloworld"), timeout=5)
    return reply.instances[0].address if reply.instances else ""


async def _latencies(calls: dict[str, Callable[[], Awaitable[Any]]], samples: int) -> dict[str, list[float]]:
    """`samples` timed calls of each kind, one at a time, the kinds interleaved."""
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(samples):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            timings[name].append(time.perf_counter() - started)
    return timings


async def _measure(args: argparse.Namespace, mesh: MicroMesh, address: str) -> dict[str, Any]:
    a, c = mesh.data_dirs
    node_pids = {"node_a": mesh.procs[0].pid, "node_c": mesh.procs[1].pid}
    async with grpc.aio.insecure_channel(address) as channel, Client(a) as via_a, Client(c) as via_c:
        unary = channel.unary_unary(_METHOD)

        async def direct() -> None:
            await unary(_BODY, timeout=10)

        async def one_hop() -> None:
            await via_c.call("helloworld", "Helloworld.Call", _REQUEST, timeout=10, retries=0)

        async def two_hops() -> None:
            await via_a.call("helloworld", "Helloworld.Call", _REQUEST, timeout=10, retries=0)

        assert json.loads(await unary(_BODY)) == _REPLY
        assert await via_a.call("helloworld", "Helloworld.Call", _REQUEST) == _REPLY
        phases = {"direct": Phase(direct, node_pids), "two_hops": Phase(two_hops, node_pids)}
        for phase in phases.values():
            await load(phase.call, args.concurrency, 0.5)  # warm-up
        for _ in range(args.rounds):
            for phase in phases.values():
                await phase.run(args.concurrency, args.seconds)
        timings = await _latencies({"direct": direct, "one_hop": one_hop, "two_hops": two_hops}, args.samples)

    elapsed = args.rounds * args.seconds
    direct_rps, routed_rps = phases["direct"].calls / elapsed, phases["two_hops"].calls / elapsed
    median_us = {name: statistics.median(values) * 1e6 for name, values in timings.items()}
    per_hop_us = (median_us["two_hops"] - median_us["direct"]) / 2
    routed = phases["two_hops"]
    return {
        "benchmark": "routed_call_two_hops_vs_direct_grpc",
        "concurrency": args.concurrency,
        "seconds": elapsed,
        "direct_rps": round(direct_rps),
        "two_hops_rps": round(routed_rps),
        "ratio": round(routed_rps / direct_rps, 3),
        "latency_median_us": {name: round(value) for name, value in median_us.items()},
        "added_per_hop_median_us": round(per_hop_us),
        "c_to_instance_hop_us": round(median_us["one_hop"] - median_us["direct"]),
        "a_to_c_hop_us": round(median_us["two_hops"] - median_us["one_hop"]),
        "node_cpu_us_per_call": {pid_name: round(cpu / routed.calls * 1e6) for pid_name, cpu in routed.cpu_s.items()},
        "targets": {"ratio": TARGET_RATIO, "per_hop_ms": TARGET_HOP_MS},
        "meets_ratio": routed_rps / direct_rps >= TARGET_RATIO,
        "meets_latency": per_hop_us / 1e3 <= TARGET_HOP_MS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one phase of one round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--samples", type=int, default=1000, help="calls of each kind for the latencies")
    args = parser.parse_args()
    with MicroMesh(2, profile="local") as mesh:
        mesh.spawn([sys.executable, str(HELLOWORLD)], "helloworld", {"MICRO_DATA_DIR": str(mesh.data_dirs[1])})
        wait_for(lambda: _instance_address(mesh.data_dirs[0]), 30, "node A to list helloworld")
        result = asyncio.run(_measure(args, mesh, _instance_address(mesh.data_dirs[0])))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
