"""The default scenario `micro sim` runs, and the table it prints.

A `Scenario` names the knobs (nodes, duration, loss, seed, slow fraction, a partition, the MeshConfig
preset). `run_scenario` builds the network model and the simulation from them, then plans the run with
its own seeded generator: a rumour (a node-owned key) written every `rumour_interval` seconds on a random
node that will not crash, until shortly before the end so the last one has time to spread; `crashes`
nodes (by default one per hundred, at least one) crashed at evenly spaced times, the last one early
enough to be detected before the end; if asked, the nodes cut into two halves between the
partition's start and end, and key-value writes (`kv_writes` per second) on random nodes that will not
crash. With `subscribers` (a fraction of the nodes) and `publish_rate`, those nodes subscribe at random
times in the first third of the rumour window, a fifth of them unsubscribe later, and random nodes that
will not crash publish `publish_rate` messages per second (see `pubsub.PubsubModel`). With `auth`, real
auth records go in (see `auth.AuthModel`): the base records on a node that will not crash at 0.5 s, then,
each on another such node, a rule change at a third of the rumour window, a revocation at half of it and
a record forged by a non-admin at two thirds. It runs to the end and returns the recorder's report,
extended with the scenario's own parameters.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..mesh.config import MeshConfig
from .auth import MIN_DURATION, AuthModel
from .engine import Simulation, collector_paused
from .metrics import Recorder, SimReport
from .network import NetworkModel
from .pubsub import PubsubModel

__all__ = ["Scenario", "format_table", "preset_config", "run_scenario"]

_PRESETS = {"lan": MeshConfig.lan, "wan": MeshConfig.wan, "local": MeshConfig.local}

DETECTION_TAIL = 25.0
"""Seconds left after the last crash so that it can be detected (capped at half the run)."""

RUMOUR_TAIL = 10.0
"""Seconds left after the last rumour so that it can spread (capped at a quarter of the run)."""

CONVERGENCE_SAMPLE = 200
"""Above 1,000 nodes, membership convergence is checked on this many seeded-random live observers."""


def preset_config(name: str) -> MeshConfig:
    """The MeshConfig preset called `name` (`lan`, `wan` or `local`)."""
    try:
        return _PRESETS[name]()
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(_PRESETS)}") from None


@dataclass(frozen=True)
class Scenario:
    """Parameters of one default-scenario run."""

    nodes: int = 100
    duration: float = 60.0
    loss: float = 0.0
    seed: int = 1
    slow: float = 0.0
    partition: tuple[float, float] | None = None
    preset: str = "lan"
    config: MeshConfig | None = None
    """Overrides the preset's MeshConfig when given (the latency profile still follows `preset`)."""
    start: str = "converged"
    rumour_interval: float | None = 2.0
    """Seconds between injected rumours; None injects none (membership traffic only)."""
    crashes: int | None = None
    """Nodes to crash; None means max(1, nodes // 100)."""
    max_skew: float = 0.0
    kv_writes: float = 0.0
    """Key-value writes per second, on random live nodes, over `kv_keys` keys."""
    kv_window: float | None = None
    """Seconds the writes span from 1 s on; None: until the last rumour."""
    kv_keys: int = 100
    subscribers: float = 0.0
    """Fraction of the nodes that subscribe (crash victims included: that is churn)."""
    publish_rate: float = 0.0
    """Pubsub messages published per second, from 1 s until the last rumour."""
    auth: bool = False
    """Write auth records (a rule change, a revocation, a forgery) and report when each is in force where;
    needs a `duration` of at least `auth.MIN_DURATION`."""


def run_scenario(scenario: Scenario) -> SimReport:
    """Run `scenario` to its end and report what happened."""
    n = scenario.nodes
    duration = scenario.duration
    config = scenario.config if scenario.config is not None else preset_config(scenario.preset)
    network = NetworkModel(n, scenario.seed, latency=scenario.preset, loss=scenario.loss,
                           slow_fraction=scenario.slow, max_skew=scenario.max_skew)
    if scenario.partition is not None:
        network.split_halves(*scenario.partition)
    recorder = Recorder()
    sim = Simulation(n, config, network, scenario.seed, start=scenario.start, observer=recorder)
    recorder.attach(sim)

    plan = random.Random(f"scenario:{scenario.seed}")
    crash_count = scenario.crashes if scenario.crashes is not None else max(1, n // 100)
    crash_count = min(crash_count, n - 2)
    victims = plan.sample(range(n), crash_count)
    first_crash = 0.1 * duration
    last_crash = duration - min(duration / 2, DETECTION_TAIL)
    for k, victim in enumerate(victims):
        at = first_crash + (last_crash - first_crash) * (k / crash_count)
        sim.crash(victim, at)

    spared = sorted(set(range(n)) - set(victims))
    last_rumour = duration - min(duration / 4, RUMOUR_TAIL)
    t = 1.0
    number = 0
    while scenario.rumour_interval is not None and t <= last_rumour:
        recorder.inject_rumour(f"sim/rumour/{number}", plan.choice(spared), t)
        number += 1
        t += scenario.rumour_interval

    if scenario.kv_writes > 0:
        window = scenario.kv_window if scenario.kv_window is not None else max(0.0, last_rumour - 1.0)
        count = max(1, round(scenario.kv_writes * window))
        writes = sorted(
            (1.0 + plan.random() * window, plan.choice(spared), f"key/{plan.randrange(scenario.kv_keys)}",
             plan.randbytes(16))
            for _ in range(count)
        )
        recorder.inject_kv_writes(writes)

    if scenario.subscribers > 0 and scenario.publish_rate > 0:
        _plan_pubsub(scenario, plan, sim, recorder, spared, last_rumour)

    if scenario.auth:
        if duration < MIN_DURATION:
            raise ValueError(f"the auth scenario needs a duration of at least {MIN_DURATION:g} s")
        model = recorder.auth = AuthModel(sim)
        # Four distinct nodes, unless fewer are spared (then some write twice).
        base, rule, revoke, forge = (plan.sample(spared, min(4, len(spared))) * 4)[:4]
        model.base(base)
        model.change_rule(rule, last_rumour / 3)
        model.revoke(revoke, last_rumour / 2)
        model.forge(forge, 2 * last_rumour / 3)

    sim.run_until(duration)

    live = sim.live()
    observers = live if len(live) <= 1000 else sorted(plan.sample(live, CONVERGENCE_SAMPLE))
    extra: dict[str, Any] = {
        "loss": scenario.loss,
        "slow": scenario.slow,
        "preset": scenario.preset,
        "start": scenario.start,
        "partition": list(scenario.partition) if scenario.partition is not None else None,
        "kv_write_rate": scenario.kv_writes,
    }
    with collector_paused():  # the report walks every observer's view, allocating millions of objects
        report = recorder.report(duration, extra=extra, convergence_observers=observers)
    recorder.detach()  # the run is freed as it goes out of scope, not by a collection of the cycle
    return report


def _plan_pubsub(scenario: Scenario, plan: random.Random, sim: Simulation, recorder: Recorder,
                 spared: list[int], last_rumour: float) -> None:
    model = recorder.pubsub = PubsubModel(sim)
    n = scenario.nodes
    subscribe_until = max(1.0, last_rumour / 3)
    for node in sorted(plan.sample(range(n), max(1, round(scenario.subscribers * n)))):
        at = plan.uniform(0.5, subscribe_until)
        model.subscribe(node, at)
        if plan.random() < 0.2:
            model.unsubscribe(node, plan.uniform(at, last_rumour))
    window = max(0.0, last_rumour - 1.0)
    for _ in range(max(1, round(scenario.publish_rate * window))):
        model.publish(plan.choice(spared), 1.0 + plan.random() * window)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def format_table(report: SimReport) -> str:
    """A short human-readable table of the report's headline numbers."""
    s = report.summary
    dis, reach, det = s["dissemination_s"], s["rumour_reach_s"], s["detection_s"]
    rows = [
        ("nodes (live at end)", f"{s['nodes']} ({s['live_nodes']})"),
        ("virtual duration", f"{s['duration_s']:g} s"),
        ("seed / loss / slow", f"{s['seed']} / {s['loss']:g} / {s['slow']:g}"),
        ("rumour arrival p50 / p99 / max",
         f"{_seconds(dis['p50'])} / {_seconds(dis['p99'])} / {_seconds(dis['max'])}"),
        ("rumour reach 99% of nodes (median)", _seconds(reach["p99_nodes"]["p50"])),
        ("rumour reach all nodes (median / max)",
         f"{_seconds(reach['all_nodes']['p50'])} / {_seconds(reach['all_nodes']['max'])}"),
        ("rumours not reaching everyone", f"{reach['incomplete']} of {reach['rumours']}"),
        ("crash detected by all p50 / p99",
         f"{_seconds(det['p50'])} / {_seconds(det['p99'])} ({det['crashes']} crashes)"),
        ("crashes not detected by all", str(det["undetected"])),
        ("false deaths", str(s["false_deaths"])),
        ("deaths across / beside a partition", f"{s['partition_deaths']} / {s['same_side_deaths']}"),
        ("bytes per node per second", f"{s['bytes_per_node_per_s']:.1f}"),
        ("membership converged", "yes" if s["converged"] else "no"),
        ("kv writes / replicas identical after", f"{s['kv_writes']} / {_seconds(s['kv_convergence_s'])}"),
    ]
    if "pubsub" in s:
        p = s["pubsub"]
        rows.append(("pubsub delivered / expected (ratio)",
                     f"{p['delivered']} / {p['expected']} ({p['delivery_ratio']})"))
        rows.append(("pubsub missed: unknown / lost; hops max", f"{p['unknown']} / {p['lost']}; {p['hops']['max']}"))
    if "auth" in s:
        a = s["auth"]
        for name in ("rule_change", "revocation"):
            change, delay = a[name], a[name]["delay_s"]
            delays = f"{_seconds(delay['p99'])} / {_seconds(delay['max'])}"
            rows.append((f"auth {name.replace('_', ' ')} in force; p99 / max",
                         f"{change['in_force']} of {change['targets']}; {delays}"))
        f = a["forged"]
        rows.append(("forged auth record refused by; held / in force",
                     f"{f['refused_by']} of {f['targets']}; {f['held_by']} / {f['in_force']}"))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

