"""What a simulation measured: dissemination, failure detection, false deaths, bandwidth, convergence.

A `Recorder` is the engine's observer. It is told when the scenario injects a rumour (a node-owned key
written on one node) and notes, per rumour, when every other node first reports `OwnedStateChanged` for
it. It notes when a crashed node is first reported `MemberFailed` by each observer, and sorts every
`MemberFailed` about a node that was up at the time: a partition death if a partition cut the observer
off from that node within the last `PARTITION_GRACE` seconds (the protocol doing its job); a same-side
death if a partition was active then but did not separate the two (the other side's verdict reaching
this side, typically through anti-entropy after the heal); otherwise a false death. Node status changes
tell it who was live when. Key-value writes are scheduled through it too: it keeps every acknowledged
register and, from the last write on, checks every `KV_CHECK` seconds whether all live replicas hold the
same map (equal root hashes); the first time they do gives `kv_convergence_s`. With a `PubsubModel`
(`simulations.pubsub`) attached as `pubsub`, it hands that model every `OwnedStateChanged` and reports
its deliveries under `pubsub`; with an `AuthModel` (`simulations.auth`) attached as `auth`, it hands that
model every `KvChanged` and reports when each auth change was in force under `auth`.

`Recorder.report()` turns this into a `SimReport` once the run is over. A rumour's targets are the nodes
that were up from its injection to the end of the run, other than its origin; a crash's targets are the
nodes that were up from the crash to the end. Percentiles are nearest-rank over sorted samples. The JSON
form holds virtual-time numbers only, rounded to microseconds, so the same seed prints the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..mesh.events import KvChanged, MemberFailed, MemberState, OwnedStateChanged
from ..mesh.messages import KvEntry
from .engine import CRASHED, UP, Simulation
from .pubsub import PubsubModel

if TYPE_CHECKING:  # the model reports with `percentile`, from here
    from .auth import AuthModel

__all__ = ["Crash", "Recorder", "Rumour", "SimReport", "membership_converged", "percentile"]

KV_CHECK = 0.05
"""Seconds between replica comparisons once the last key-value write was made."""

PARTITION_GRACE = 60.0
"""Deaths reported up to this many seconds after a partition ended are attributed to the partition."""


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile `q` (0..1) of already sorted values; None when there are none."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def _summary(values: list[float]) -> dict[str, float | int | None]:
    values.sort()
    return {
        "p50": _round(percentile(values, 0.50)),
        "p99": _round(percentile(values, 0.99)),
        "max": _round(values[-1] if values else None),
        "samples": len(values),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass
class Rumour:
    """One injected node-owned key: who wrote it, when, and when each node first saw it."""

    key: str
    origin: int
    at: float
    arrivals: dict[int, float] = field(default_factory=dict)


@dataclass
class Crash:
    """One crash: which node, when, and when each observer first reported it failed."""

    node: int
    at: float
    detections: dict[int, float] = field(default_factory=dict)


@dataclass
class SimReport:
    """The outcome of one run; `to_json()` is what `micro sim --json` prints."""

    summary: dict[str, Any]
    rumour_delays: list[list[float]]
    """Per rumour, the sorted delays (seconds) at which its targets saw it."""
    rumour_targets: list[int]
    """Per rumour, how many nodes it should have reached."""
    detection_delays: list[float | None]
    """Per crash, the time until every live node had marked it dead (None: not everyone did)."""
    auth_delays: dict[str, list[float]] = field(default_factory=dict)
    """Per auth change (`rule_change`, `revocation`), the sorted delays at which its targets had it in force."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object: only virtual-time numbers, so a seed always gives the same bytes."""
        return self.summary


class Recorder:
    """Observer that collects what `SimReport` needs while a `Simulation` runs."""

    def __init__(self) -> None:
        self.sim: Simulation | None = None
        self.rumours: dict[str, Rumour] = {}
        self.crashes: list[Crash] = []
        self.false_deaths: list[tuple[float, int, int]] = []
        self.partition_deaths = 0
        self.same_side_deaths = 0
        self._open_crash: dict[int, Crash] = {}
        self.kv_acked: list[KvEntry] = []
        self.kv_last_write: float | None = None
        self.kv_converged_at: float | None = None
        self.pubsub: PubsubModel | None = None
        self.auth: AuthModel | None = None

    def attach(self, sim: Simulation) -> None:
        """Observe `sim` (the recorder must be attached before the run starts)."""
        self.sim = sim
        sim.observer = self

    def detach(self) -> None:
        """Stop observing. A simulation and its recorder refer to each other: left attached, a finished
        run's memory (a gigabyte at 10,000 nodes) waits for a full collection of the cycle, which at exit
        took longer than tearing it down (about 9 s against 1 s)."""
        if self.sim is not None:
            self.sim.observer = None
            self.sim = None

    def _sim(self) -> Simulation:
        if self.sim is None:
            raise RuntimeError("Recorder is not attached to a Simulation")
        return self.sim

    # -- scheduling helpers -----------------------------------------------------------------------------

    def inject_rumour(self, key: str, origin: int, at: float, value: bytes = b"r") -> None:
        """Schedule a write of `key` on node `origin` at `at`, and track how it spreads."""
        sim = self._sim()
        sim.at(at, self._inject, key, origin, value)

    def _inject(self, t: float, key: str, origin: int, value: bytes) -> None:
        sim = self._sim()
        if sim.status[origin] != UP:
            return
        self.rumours[key] = Rumour(key, origin, t)
        sim.set_local(origin, key, value, t)

    def inject_kv_writes(self, writes: Sequence[tuple[float, int, str, bytes | None]]) -> None:
        """Schedule (time, node, key, value) writes and the convergence checks after the last one."""
        sim = self._sim()
        for at, node, key, value in writes:
            sim.kv_put(node, key, value, at, acked=self.kv_acked.append)
        if writes:
            self.kv_last_write = max(at for at, _, _, _ in writes)
            sim.at(self.kv_last_write, self._check_kv)

    def _check_kv(self, t: float) -> None:
        sim = self._sim()
        if len({core.kv_root for core in sim.cores if core is not None}) <= 1:
            self.kv_converged_at = t
        else:
            sim.at(t + KV_CHECK, self._check_kv)

    # -- Observer ---------------------------------------------------------------------------------------

    def on_event(self, node: int, t: float, event: object) -> None:
        """Record rumour arrivals and deaths; pass key-value changes to the auth model."""
        kind = type(event)
        if kind is OwnedStateChanged:
            rumour = self.rumours.get(event.key)  # type: ignore[attr-defined]
            if rumour is not None and node != rumour.origin and node not in rumour.arrivals:
                rumour.arrivals[node] = t
            if self.pubsub is not None:
                self.pubsub.on_owned(node, event)  # type: ignore[arg-type]
        elif kind is MemberFailed:
            self._on_failed(node, t, event)
        elif kind is KvChanged and self.auth is not None:
            self.auth.on_kv(node, t, event)  # type: ignore[arg-type]

    def _on_failed(self, observer: int, t: float, event: Any) -> None:
        sim = self._sim()
        subject = sim.index_of_id.get(event.member.node_id)
        if subject is None:
            return
        crash = self._open_crash.get(subject)
        if crash is not None:
            crash.detections.setdefault(observer, t)
            return
        if sim.status[subject] != UP:
            return
        network = sim.network
        if network.separated_during(observer, subject, t - PARTITION_GRACE, t):
            self.partition_deaths += 1
        elif network.partitioned_during(t - PARTITION_GRACE, t):
            self.same_side_deaths += 1
        else:
            self.false_deaths.append((t, observer, subject))

    def on_status(self, node: int, t: float, status: int) -> None:
        """Open a crash record when a node crashes; close it when the node comes back."""
        if status == CRASHED and t > 0:
            crash = Crash(node, t)
            self.crashes.append(crash)
            self._open_crash[node] = crash
        elif status == UP:
            self._open_crash.pop(node, None)

    # -- report -----------------------------------------------------------------------------------------

    def report(self, duration: float, extra: dict[str, Any] | None = None,
               convergence_observers: Sequence[int] | None = None) -> SimReport:
        """Summarise the run that ended at virtual time `duration`."""
        sim = self._sim()
        end_live = [i for i, s in enumerate(sim.status) if s == UP]

        all_arrivals: list[float] = []
        reach_99: list[float] = []
        reach_all: list[float] = []
        incomplete = 0
        missing = 0
        rumour_delays: list[list[float]] = []
        rumour_targets: list[int] = []
        for rumour in sorted(self.rumours.values(), key=lambda r: (r.at, r.key)):
            targets = [i for i in end_live if i != rumour.origin and sim.up_since[i] <= rumour.at]
            delays = sorted(rumour.arrivals[i] - rumour.at for i in targets if i in rumour.arrivals)
            rumour_delays.append(delays)
            rumour_targets.append(len(targets))
            all_arrivals.extend(delays)
            missing += len(targets) - len(delays)
            if not targets:
                continue
            need_99 = max(1, math.ceil(0.99 * len(targets)))
            if len(delays) >= need_99:
                reach_99.append(delays[need_99 - 1])
            if len(delays) == len(targets):
                reach_all.append(delays[-1])
            else:
                incomplete += 1

        detection: list[float] = []
        detection_delays: list[float | None] = []
        undetected = 0
        for crash in self.crashes:
            targets = [i for i in end_live if sim.up_since[i] <= crash.at]
            if targets and all(i in crash.detections for i in targets):
                worst = max(crash.detections[i] for i in targets) - crash.at
                detection.append(worst)
                detection_delays.append(worst)
            else:
                undetected += 1
                detection_delays.append(None)

        node_seconds = sim.node_seconds(duration)
        total_bytes = sum(sim.bytes_sent)
        observers = end_live if convergence_observers is None else list(convergence_observers)
        summary: dict[str, Any] = {
            "nodes": len(sim.status),
            "live_nodes": len(end_live),
            "duration_s": duration,
            "seed": sim.seed,
            "dissemination_s": _summary(all_arrivals) | {"missing": missing},
            "rumour_reach_s": {
                "rumours": len(self.rumours),
                "p99_nodes": _summary(reach_99),
                "all_nodes": _summary(reach_all),
                "incomplete": incomplete,
            },
            "detection_s": _summary(detection) | {"crashes": len(self.crashes), "undetected": undetected},
            "false_deaths": len(self.false_deaths),
            "partition_deaths": self.partition_deaths,
            "same_side_deaths": self.same_side_deaths,
            "bytes_per_node_per_s": round(total_bytes / node_seconds, 3) if node_seconds else 0.0,
            "reliable_bytes_per_node_per_s":
                round(sim.reliable_bytes / node_seconds, 3) if node_seconds else 0.0,
            "bytes_sent": total_bytes,
            "packets_sent": sim.packets_sent,
            "packets_dropped": sim.packets_dropped,
            "converged": membership_converged(sim, observers),
            "convergence_observers": len(observers),
            "kv_writes": len(self.kv_acked),
            "kv_convergence_s": _round(self.kv_converged_at - self.kv_last_write)
            if self.kv_converged_at is not None and self.kv_last_write is not None else None,
        }
        if self.pubsub is not None:
            summary["pubsub"] = self.pubsub.summary()
        auth_delays: dict[str, list[float]] = {}
        if self.auth is not None:
            summary["auth"] = self.auth.summary()
            auth_delays = self.auth.delays()
        if extra:
            summary.update(extra)
        return SimReport(summary, rumour_delays, rumour_targets, detection_delays, auth_delays)


def membership_converged(sim: Simulation, observers: Sequence[int]) -> bool:
    """True if each of `observers` (live nodes) sees exactly the live nodes as members, none missing.

    A member counts as present while it is alive or suspected (suspicion is part of normal operation);
    a node that is up but seen failed or left, or a crashed node still seen present, breaks convergence.
    """
    live_ids = {sim.node_ids[i] for i, s in enumerate(sim.status) if s == UP}
    present = (MemberState.ALIVE, MemberState.SUSPECT)
    for node in observers:
        core = sim.cores[node]
        if core is None:
            return False
        view = {m.node_id for m in core.members() if m.state in present}
        view.add(sim.node_ids[node])
        if view != live_ids:
            return False
    return True
