"""Benchmark: local KV reads through the SDK (`kv.Store.get`) on one running node.

Measures the latency of sequential gets of one 100-byte key (target: p50 <= 200 us). The SDK reads the
node's SQLite file read-only when it runs on the same machine as the same user (see sdk/kv.py). The
baseline, measured in the same run and interleaved with it block by block so both see the same machine
load, is what a read through the local API costs at the least: a raw grpc.aio unary KvGet with a
pre-built request on an open channel. Prints one JSON object; exits 0 whether or not the target is met.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from micro.node.api.proto import node_pb2, node_pb2_grpc
from micro.sdk import kv
from processes import MicroMesh, percentiles

GETS = 5000
BLOCK = 250
WARMUP = 500
TARGET_P50_US = 200.0


async def _timed(call: Callable[[], Awaitable[Any]], count: int, into: list[float]) -> None:
    clock = time.perf_counter
    for _ in range(count):
        start = clock()
        await call()
        into.append(clock() - start)


async def _measure(mesh: MicroMesh) -> dict[str, Any]:
    data_dir = mesh.data_dirs[0]
    async with kv.Store(data_dir=data_dir) as store, \
            grpc.aio.insecure_channel(f"unix:{data_dir / 'node.sock'}") as channel:
        await store.put("bench", b"v" * 100)
        stub = node_pb2_grpc.NodeStub(channel)
        request = node_pb2.KvGetRequest(db="default", table="default", key="bench")

        def sdk_get() -> Awaitable[Any]:
            return store.get("bench")

        def raw_get() -> Awaitable[Any]:
            return stub.KvGet(request)

        record = await store.get("bench")
        assert record is not None and record.value == b"v" * 100
        await _timed(sdk_get, WARMUP, [])
        await _timed(raw_get, WARMUP, [])
        sdk: list[float] = []
        raw: list[float] = []
        started = time.perf_counter()
        for _ in range(GETS // BLOCK):
            await _timed(sdk_get, BLOCK, sdk)
            await _timed(raw_get, BLOCK, raw)
        wall = time.perf_counter() - started
    sdk_p, raw_p = percentiles(sdk, "us"), percentiles(raw, "us")
    return {
        "benchmark": "kv_local",
        "gets": GETS,
        "value_bytes": 100,
        "sdk_get": sdk_p,
        "baseline_raw_grpc_aio_get": raw_p,
        "sdk_minus_grpc_p50_us": round(sdk_p["p50_us"] - raw_p["p50_us"], 1),
        "wall_s": round(wall, 2),
        "target_p50_us": TARGET_P50_US,
        "pass": sdk_p["p50_us"] <= TARGET_P50_US,
    }


def main() -> int:
    with MicroMesh(1) as mesh:
        result = asyncio.run(_measure(mesh))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
