"""Benchmark: 32 real node processes on 127.0.0.1 (profile lan).

Measures (1) convergence: the time from the last `join` returning until every node lists all 32 members
alive (target <= 5 s); (2) idle cost after 20 s at rest: each node's resident memory (target < 60 MB)
and CPU over 10 s (target < 2 % of one core). The baseline, measured in the same run and the same
window, is a bare Python process that imports grpc, nacl and cbor2 and sleeps, so the ratios show what
the node adds over the libraries it cannot do without. Prints one JSON object. Every wait has a
deadline and every process started here is killed at the end.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from micro.node.api.client import NodeClient
from micro.node.api.datadir import DataDir
from micro.node.api.errors import NodeError

NODES = 32
IDLE_S = 20.0
CPU_WINDOW_S = 10.0
START_DEADLINE_S = 120.0
CONVERGE_DEADLINE_S = 60.0
TARGETS = {"convergence_s": 5.0, "rss_mb": 60.0, "cpu_pct": 2.0}
MICRO = str(Path(sys.executable).with_name("micro"))
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * _PAGE / 1e6


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of /proc/PID/stat; index 11 and 12 after the command name.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _cpu_pct(pids: list[int], window: float) -> list[float]:
    before = [_cpu_s(p) for p in pids]
    start = time.monotonic()
    time.sleep(window)
    elapsed = time.monotonic() - start
    return [100.0 * (_cpu_s(p) - b) / elapsed for p, b in zip(pids, before, strict=True)]


def _client(data_dir: Path) -> NodeClient:
    return NodeClient(DataDir(data_dir))


def _wait(predicate: Any, deadline: float, what: str) -> None:
    while True:
        try:
            if predicate():
                return
        except NodeError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _answers(data_dir: Path) -> bool:
    with _client(data_dir) as client:
        return bool(client.status())


def _alive_count(data_dir: Path) -> int:
    with _client(data_dir) as client:
        return sum(1 for m in client.members() if m["state"] == "alive")


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 2), "max": round(max(values), 2),
            "min": round(min(values), 2)}


def main() -> int:
    procs: list[subprocess.Popen[bytes]] = []
    clients: dict[Path, NodeClient] = {}
    base = Path(tempfile.mkdtemp(prefix="mb-"))
    result: dict[str, Any] = {"benchmark": "node_cluster", "nodes": NODES, "profile": "lan", "targets": TARGETS}
    try:
        dirs = [base / f"n{i}" for i in range(NODES)]
        t0 = time.monotonic()
        for d in dirs:
            d.mkdir()
            with open(base / f"{d.name}.stderr", "wb") as err:
                procs.append(subprocess.Popen(
                    [MICRO, "node", "start", "--data-dir", str(d), "--bind", "127.0.0.1:0", "--no-mdns",
                     "--profile", "lan", "--log-level", "warning"],
                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                ))
        deadline = time.monotonic() + START_DEADLINE_S
        for d in dirs:
            _wait(lambda d=d: (d / "node.sock").exists() and _answers(d), deadline, f"{d.name} to start")
        result["start_all_s"] = round(time.monotonic() - t0, 2)
        with _client(dirs[0]) as seed:
            seed_address = seed.status()["address"]
            tokens = [seed.invite(600) for _ in dirs[1:]]

        def join(args: tuple[Path, str]) -> None:
            with _client(args[0]) as client:
                client.join(seed_address, args[1])

        # Open before the clock starts, so polling measures the mesh and not channel set-up.
        clients = {d: _client(d) for d in dirs}
        t_join = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(join, zip(dirs[1:], tokens, strict=True)))
        last_join = time.monotonic()
        result["joins_s"] = round(last_join - t_join, 2)
        deadline = last_join + CONVERGE_DEADLINE_S
        pending = {d: clients[d] for d in dirs}
        seen_at: list[float] = []
        while pending:
            for d, client in list(pending.items()):
                if sum(1 for m in client.members() if m["state"] == "alive") == NODES:
                    seen_at.append(time.monotonic() - last_join)
                    del pending[d]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"{len(pending)} nodes still lack a full view")
            if pending:
                time.sleep(0.02)
        result["convergence_s"] = round(max(seen_at), 3)
        result["convergence_median_s"] = round(statistics.median(seen_at), 3)

        baseline = subprocess.Popen(
            [sys.executable, "-c", "import grpc, nacl.signing, cbor2, time; time.sleep(600)"],
            start_new_session=True,
        )
        procs.append(baseline)
        time.sleep(IDLE_S)
        pids = [p.pid for p in procs[:NODES]]
        cpu = _cpu_pct([*pids, baseline.pid], CPU_WINDOW_S)
        rss = [_rss_mb(p) for p in pids]
        base_rss, base_cpu = _rss_mb(baseline.pid), cpu[-1]
        node_cpu = cpu[:-1]
        result["rss_mb"] = _summary(rss)
        result["cpu_pct"] = _summary(node_cpu)
        result["baseline"] = {"rss_mb": round(base_rss, 2), "cpu_pct": round(base_cpu, 3),
                              "process": "python -c 'import grpc, nacl.signing, cbor2' idle"}
        result["ratios"] = {
            "rss_median_over_baseline": round(statistics.median(rss) / base_rss, 2),
            "cpu_median_minus_baseline_pct": round(statistics.median(node_cpu) - base_cpu, 3),
        }
        result["all_alive_after_idle"] = all(_alive_count(d) == NODES for d in dirs)
        result["pass"] = {
            "convergence": result["convergence_s"] <= TARGETS["convergence_s"],
            "rss": max(rss) < TARGETS["rss_mb"],
            "cpu": max(node_cpu) < TARGETS["cpu_pct"],
        }
    finally:
        for client in clients.values():
            client.close()
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        subprocess.run(["rm", "-rf", str(base)], check=False)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
