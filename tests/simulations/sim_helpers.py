"""Helpers shared by the simulation tests: build and run seeded simulations of the real core."""

from __future__ import annotations

from micro.mesh.config import MeshConfig
from micro.mesh.events import MemberState
from micro.simulations.engine import Simulation
from micro.simulations.metrics import Recorder
from micro.simulations.network import NetworkModel


def build(nodes: int, *, seed: int = 7, loss: float = 0.0, slow: float = 0.0, start: str = "converged",
          config: MeshConfig | None = None) -> tuple[Simulation, Recorder]:
    """A LAN simulation of `nodes` nodes with a recorder attached (nothing has run yet)."""
    network = NetworkModel(nodes, seed, latency="lan", loss=loss, slow_fraction=slow)
    recorder = Recorder()
    sim = Simulation(nodes, config or MeshConfig.lan(), network, seed, start=start, observer=recorder)
    recorder.attach(sim)
    return sim, recorder


def alive_views(sim: Simulation, states: tuple[MemberState, ...]) -> dict[int, set[bytes]]:
    """For each live node, the ids it holds in one of `states` (itself included)."""
    views = {}
    for node in sim.live():
        core = sim.cores[node]
        assert core is not None
        view = {m.node_id for m in core.members() if m.state in states}
        view.add(sim.node_ids[node])
        views[node] = view
    return views


def assert_everyone_sees_all_alive(sim: Simulation, lossy: bool = False) -> None:
    """Every live node holds every live node alive, and nothing else alive.

    With `lossy`, a member under suspicion also counts as alive: with lost datagrams some probe fails
    every few seconds somewhere, and the suspicion is gossiped for the fraction of a second it takes the
    suspect to refute it, so at any instant some views may hold a live node as suspect (never dead).
    """
    states = (MemberState.ALIVE, MemberState.SUSPECT) if lossy else (MemberState.ALIVE,)
    expected = {sim.node_ids[i] for i in sim.live()}
    for node, view in alive_views(sim, states).items():
        missing, extra = expected - view, view - expected
        assert not missing and not extra, (
            f"node {node} misses {len(missing)} and wrongly holds {len(extra)} of {len(expected)} live nodes"
        )
