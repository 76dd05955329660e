"""Benchmark: acknowledged KV writes/s of a three-node Micro mesh against a three-member etcd cluster.

Both run on 127.0.0.1 and are driven from this Python process at the same concurrency (64 writers) with
the same keys and 100-byte values, each bounded by a write count and a time limit:

- baseline, etcd 3.4 (`/usr/bin/etcd`, Debian's etcd-server): three members with their own data dirs,
  written through member 0's v3 JSON gateway (`POST /v3/kv/put`, base64 key and value) with aiohttp.
  etcd acknowledges a put once a quorum has it in its log, fsyncing per commit batch;
- Micro: three `micro node start --no-mdns --profile lan` nodes joined into one mesh, written through the
  SDK (`kv.Store.put`) to node A, which acknowledges once the write is committed to its SQLite file.

Targets: Micro's writes/s at least twice etcd's, and replication lag p99 <= 100 ms. Lag is the time from
a put's acknowledgement on A until a watch on B (and one on C) delivers it, sampled every 20 ms: while
Micro's full write load runs (reported; every core is busy then, this process too), with the mesh idle
(after B and C caught up: `catch_up_s` is how long after the load they held every acknowledged write),
and while A takes writes at etcd's full rate (`lag_at_etcd_rate`); the target is judged on the last two. Prints one JSON object; exits 0 whether or not the
targets are met. Every process started here is killed at the end, on error too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from micro.sdk import kv
from processes import ETCD, EtcdCluster, MicroMesh, percentiles

CONCURRENCY = 64
MAX_WRITES = 20_000
MAX_SECONDS = 15.0
VALUE = b"v" * 100
LAG_INTERVAL_S = 0.02
IDLE_LAG_SAMPLES = 200
LAG_DEADLINE_S = 10.0
CATCH_UP_DEADLINE_S = 60.0
TARGETS = {"micro_over_etcd": 2.0, "lag_p99_ms": 100.0}


def _key(i: int) -> str:
    return f"bench/{i:08d}"


async def _drive(put: Callable[[str], Awaitable[None]], rate: float | None = None,
                 first: int = 0) -> dict[str, Any]:
    """CONCURRENCY writers putting distinct keys until MAX_WRITES are issued or MAX_SECONDS pass; with
    `rate`, paced to that many writes per second in all."""
    numbers = itertools.count(first)
    done = 0
    started = time.perf_counter()
    deadline = started + MAX_SECONDS

    async def writer() -> None:
        nonlocal done
        while time.perf_counter() < deadline and (i := next(numbers)) < first + MAX_WRITES:
            if rate is not None:
                await asyncio.sleep(max(0.0, started + (i - first) / rate - time.perf_counter()))
            await put(_key(i))
            done += 1

    await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    return {"writes": done, "seconds": round(elapsed, 2), "writes_per_s": round(done / elapsed, 1)}


async def _etcd(cluster: EtcdCluster) -> dict[str, Any]:
    url = f"{cluster.client_urls[0]}/v3/kv/put"
    value = base64.b64encode(VALUE).decode()
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def put(key: str) -> None:
            body = {"key": base64.b64encode(key.encode()).decode(), "value": value}
            async with session.post(url, json=body) as reply:
                reply.raise_for_status()
                await reply.read()

        return await _drive(put)


class _LagProbe:
    """Puts `lag/...` keys on A at a steady pace and times each until watches on the other nodes see it."""

    def __init__(self, writer: kv.Store, watchers: dict[str, kv.Store]) -> None:
        self.writer = writer
        self.watchers = watchers

    async def run(self, label: str, until: Callable[[int], bool]) -> dict[str, Any]:
        prefix = f"lag/{label}/"
        acked: dict[str, float] = {}
        seen: dict[str, dict[str, float]] = {name: {} for name in self.watchers}

        async def follow(name: str, changes: Any) -> None:
            async for change in changes:
                seen[name].setdefault(change.record.key, time.perf_counter())

        async with contextlib.AsyncExitStack() as stack:
            # Entered watches are registered on their nodes: nothing written after this is missed.
            for name, store in self.watchers.items():
                changes = await stack.enter_async_context(store.watch(prefix))
                stack.callback(asyncio.create_task(follow(name, changes)).cancel)
            for i in itertools.count():
                if until(i):
                    break
                key = f"{prefix}{i:06d}"
                await self.writer.put(key, b"x")
                acked[key] = time.perf_counter()
                await asyncio.sleep(LAG_INTERVAL_S)
            deadline = time.perf_counter() + LAG_DEADLINE_S
            while any(len(s) < len(acked) for s in seen.values()) and time.perf_counter() < deadline:
                await asyncio.sleep(0.01)
        report: dict[str, Any] = {}
        for name, times in seen.items():
            lags = [max(0.0, times[k] - t) for k, t in acked.items() if k in times]
            report[name] = {**percentiles(lags), "missing": len(acked) - len(lags)} if lags else {"missing": len(acked)}
        return report


async def _catch_up(replicas: dict[str, kv.Store], writes: int) -> dict[str, Any]:
    """How long after the load stopped until every replica holds every acknowledged write (bounded)."""
    started = time.perf_counter()
    held = {name: 0 for name in replicas}
    while time.perf_counter() - started < CATCH_UP_DEADLINE_S:
        held = {name: len(await store.list(prefix="bench/")) for name, store in replicas.items()}
        if all(n >= writes for n in held.values()):
            return {"catch_up_s": round(time.perf_counter() - started, 2), "replicated_keys": held}
        await asyncio.sleep(0.5)
    return {"catch_up_s": None, "replicated_keys": held}


async def _micro(mesh: MicroMesh, etcd_rate: float) -> dict[str, Any]:
    stores = [kv.Store(data_dir=d) for d in mesh.data_dirs]
    try:
        a, b, c = stores
        probe = _LagProbe(a, {"B": b, "C": c})

        async def loaded(label: str, rate: float | None, first: int) -> tuple[dict[str, Any], dict[str, Any]]:
            done = asyncio.Event()

            async def load() -> dict[str, Any]:
                try:
                    return await _drive(lambda key: a.put(key, VALUE), rate, first)
                finally:
                    done.set()

            return await asyncio.gather(load(), probe.run(label, lambda i: done.is_set()))

        throughput, lag_loaded = await loaded("loaded", None, 0)
        catch_up = await _catch_up({"B": b, "C": c}, throughput["writes"])
        lag_idle = await probe.run("idle", lambda i: i >= IDLE_LAG_SAMPLES)
        paced, lag_paced = await loaded("paced", etcd_rate, MAX_WRITES)
    finally:
        for store in stores:
            await store.close()
    return {**throughput, **catch_up, "lag_under_load": lag_loaded, "lag_idle": lag_idle,
            "lag_at_etcd_rate": {"writes_per_s": paced["writes_per_s"], **lag_paced}}


def _etcd_version() -> str:
    out = subprocess.run([ETCD, "--version"], capture_output=True, text=True, timeout=10, check=False).stdout
    return out.splitlines()[0].split()[-1] if out else "unknown"


def main() -> int:
    result: dict[str, Any] = {"benchmark": "kv_etcd", "concurrency": CONCURRENCY, "value_bytes": len(VALUE),
                              "max_writes": MAX_WRITES, "max_seconds": MAX_SECONDS, "targets": TARGETS}
    with EtcdCluster(3) as cluster:
        result["etcd"] = {"version": _etcd_version(), "members": 3, **asyncio.run(_etcd(cluster))}
    with MicroMesh(3, profile="lan") as mesh:
        result["micro"] = {"nodes": 3, "profile": "lan",
                           **asyncio.run(_micro(mesh, result["etcd"]["writes_per_s"]))}
    ratio = result["micro"]["writes_per_s"] / result["etcd"]["writes_per_s"]
    result["micro_over_etcd"] = round(ratio, 2)
    # The lag target is checked idle and under etcd's full write rate; at Micro's own saturation (every
    # core busy, this process included) it is reported, not judged.
    paced = result["micro"]["lag_at_etcd_rate"]
    lag_p99 = max(r.get("p99_ms", float("inf")) for r in
                  [*result["micro"]["lag_idle"].values(), paced["B"], paced["C"]])
    result["pass"] = {"micro_over_etcd": ratio >= TARGETS["micro_over_etcd"],
                      "lag_p99": lag_p99 <= TARGETS["lag_p99_ms"]}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
