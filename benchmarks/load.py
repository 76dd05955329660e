"""Closed-loop load for the call benchmarks, and the CPU time processes spend under it.

`load` runs `concurrency` workers, each calling again as soon as its call returns, for a fixed time. A
`Phase` is one way of calling, accumulated over rounds: calls made, the CPU seconds each watched process
spent meanwhile (read from /proc, so they hardly move with the machine's load, unlike rates), and the CPU
seconds of this process (the client).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["Phase", "cpu_s", "load"]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(call: Callable[[], Awaitable[None]], concurrency: int, seconds: float) -> int:
    """Calls made by `concurrency` workers in a loop for `seconds`."""
    deadline = time.perf_counter() + seconds
    counts = [0] * concurrency

    async def worker(index: int) -> None:
        while time.perf_counter() < deadline:
            await call()
            counts[index] += 1

    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return sum(counts)


class Phase:
    """One way of calling, and what it achieved over all its rounds; `pids` names the processes to watch."""

    def __init__(self, call: Callable[[], Awaitable[None]], pids: dict[str, int]) -> None:
        self.call, self.pids = call, pids
        self.calls = 0
        self.cpu_s = dict.fromkeys(pids, 0.0)
        self.client_cpu_s = 0.0

    async def run(self, concurrency: int, seconds: float) -> None:
        before = {name: cpu_s(pid) for name, pid in self.pids.items()}
        client = time.process_time()
        self.calls += await load(self.call, concurrency, seconds)
        for name, pid in self.pids.items():
            self.cpu_s[name] += cpu_s(pid) - before[name]
        self.client_cpu_s += time.process_time() - client
