"""The simulated network: latency, loss, partitions, slow nodes and clock skew, all from one seed.

Nodes are numbered 0..n-1. Every datagram gets a one-way latency drawn from a lognormal distribution
around a configurable median (the LAN default puts nearly all of them between 0.5 ms and 2 ms; for speed
the draws are made once into a table of 16,384 values and picked from at random), and is lost with
probability `loss`. Reliable packets (peer links) are never lost: each loss draw instead adds a
retransmission timeout to their delay, as TCP would; they fail only when the two nodes are cut apart.
A partition cuts groups of nodes off from each other between a start and an end time; nodes that no group
lists form one more group together. A fraction of nodes is slow: their timers fire late by a random delay
and they drop a fraction of their own datagrams. Each node has a fixed clock offset (skew) that the driver
adds to the `now` its core sees; the core's clock is monotonic per node, so skew is only an offset.
All draws come from the model's own `random.Random`, in the order the driver asks, so a run repeats.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LatencyProfile", "NetworkModel", "Partition", "latency_profile"]

_LATENCY_BITS = 14
_LATENCY_DRAWS = 1 << _LATENCY_BITS
"""Latencies are drawn once into a table of this many values and then picked at random (it is faster)."""


@dataclass(frozen=True)
class LatencyProfile:
    """A lognormal one-way latency: `median` seconds, shape `sigma`, never below `floor` seconds."""

    median: float
    sigma: float
    floor: float


_PROFILES = {
    "lan": LatencyProfile(median=0.001, sigma=0.35, floor=0.0002),
    "wan": LatencyProfile(median=0.040, sigma=0.5, floor=0.005),
    "local": LatencyProfile(median=0.0001, sigma=0.3, floor=0.00002),
}


def latency_profile(name: str) -> LatencyProfile:
    """The latency profile matching a MeshConfig preset name (`lan`, `wan`, `local`)."""
    try:
        return _PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown latency profile {name!r}; expected one of {sorted(_PROFILES)}") from None


@dataclass(frozen=True)
class Partition:
    """Nodes in different groups cannot reach each other while start <= t < end."""

    start: float
    end: float
    group_of: tuple[int, ...]
    """Group number of every node (index = node)."""


class NetworkModel:
    """Seeded network behaviour for `nodes` nodes; the simulation engine asks it about every send."""

    def __init__(
        self,
        nodes: int,
        seed: int,
        *,
        latency: LatencyProfile | str = "lan",
        loss: float = 0.0,
        retransmit_timeout: float = 0.2,
        slow_fraction: float = 0.0,
        slow_timer_delay: float = 0.5,
        slow_send_drop: float = 0.1,
        max_skew: float = 0.0,
    ) -> None:
        """Draw the slow nodes and each node's skew (uniform in ±`max_skew` seconds) from `seed`.

        A slow node's timers fire late by a uniform delay in [0, `slow_timer_delay`] seconds, and it
        drops each of its datagrams with probability `slow_send_drop`.
        """
        if nodes < 1:
            raise ValueError(f"need at least one node, got {nodes}")
        if not 0.0 <= loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), got {loss}")
        if not 0.0 <= slow_fraction <= 1.0:
            raise ValueError(f"slow_fraction must be in [0, 1], got {slow_fraction}")
        self.nodes = nodes
        self.profile = latency if isinstance(latency, LatencyProfile) else latency_profile(latency)
        self.loss = loss
        self.retransmit_timeout = retransmit_timeout
        self.slow_timer_delay = slow_timer_delay
        self.slow_send_drop = slow_send_drop
        self._rng = random.Random(f"network:{seed}")
        mu, sigma, floor = math.log(self.profile.median), self.profile.sigma, self.profile.floor
        self._latencies = [max(floor, self._rng.lognormvariate(mu, sigma)) for _ in range(_LATENCY_DRAWS)]
        slow_count = round(slow_fraction * nodes)
        self.slow: frozenset[int] = frozenset(self._rng.sample(range(nodes), slow_count))
        self._slow_flags = [i in self.slow for i in range(nodes)]
        self.skew: list[float] = (
            [self._rng.uniform(-max_skew, max_skew) for _ in range(nodes)] if max_skew > 0 else [0.0] * nodes
        )
        self.partitions: list[Partition] = []

    def partition(self, groups: Iterable[Iterable[int]], start: float, end: float) -> Partition:
        """Cut `groups` of nodes off from each other between `start` and `end` (virtual seconds)."""
        if not start < end:
            raise ValueError(f"partition needs start < end, got {start}..{end}")
        group_of = [-1] * self.nodes
        for number, group in enumerate(groups):
            for node in group:
                group_of[node] = number
        cut = Partition(start, end, tuple(group_of))
        self.partitions.append(cut)
        return cut

    def split_halves(self, start: float, end: float) -> Partition:
        """Cut the first half of the nodes off from the second half between `start` and `end`."""
        half = self.nodes // 2
        return self.partition([range(half), range(half, self.nodes)], start, end)

    def separated(self, a: int, b: int, t: float) -> bool:
        """True if a partition keeps `a` and `b` apart at time `t`."""
        for cut in self.partitions:
            if cut.start <= t < cut.end and cut.group_of[a] != cut.group_of[b]:
                return True
        return False

    def separated_during(self, a: int, b: int, since: float, until: float) -> bool:
        """True if a partition kept `a` and `b` apart at some time in [since, until]."""
        for cut in self.partitions:
            if cut.start <= until and since < cut.end and cut.group_of[a] != cut.group_of[b]:
                return True
        return False

    def partitioned_during(self, since: float, until: float) -> bool:
        """True if any partition was active at some time in [since, until]."""
        return any(cut.start <= until and since < cut.end for cut in self.partitions)

    def latency(self) -> float:
        """One draw of one-way latency in seconds."""
        return self._latencies[self._rng.getrandbits(_LATENCY_BITS)]

    def datagram_delay(self, src: int, dst: int, t: float) -> float | None:
        """Delay of a datagram sent at `t` from `src` to `dst`, or None if it is dropped or lost."""
        if self.partitions and self.separated(src, dst, t):
            return None
        rng = self._rng
        if self._slow_flags[src] and rng.random() < self.slow_send_drop:
            return None
        if self.loss and rng.random() < self.loss:
            return None
        return self._latencies[rng.getrandbits(_LATENCY_BITS)]

    def reliable_delay(self, src: int, dst: int, t: float) -> float | None:
        """Delay of a reliable packet sent at `t`, or None if `src` and `dst` are cut apart.

        Each loss draw adds one retransmission timeout, as a TCP segment would wait (at most 6 times).
        """
        if self.partitions and self.separated(src, dst, t):
            return None
        rng = self._rng
        delay = self._latencies[rng.getrandbits(_LATENCY_BITS)]
        if self.loss:
            retries = 0
            while retries < 6 and rng.random() < self.loss:
                delay += self.retransmit_timeout * (2 ** retries)
                retries += 1
        return delay

    def timer_lateness(self, node: int) -> float:
        """How late `node`'s timer fires: 0 for normal nodes, a random delay for slow ones."""
        if self._slow_flags[node]:
            return self._rng.uniform(0.0, self.slow_timer_delay)
        return 0.0
