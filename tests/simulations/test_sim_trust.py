"""Hostile input injected into a simulated mesh: forged claims are refused everywhere."""

from __future__ import annotations

from micro.mesh.messages import Alive, Owned
from micro.mesh.trust import alive_payload, owned_payload, sign_alive
from micro.simulations.crypto import SimRegistry
from sim_helpers import build

EVIL = "10.66.66.66:7946"


def test_a_forged_alive_claim_is_refused_and_never_spreads() -> None:
    sim, recorder = build(12, seed=2)
    sim.run_until(1.0)
    victim, forger = sim.credentials[5], sim.credentials[6]
    # Node 6 claims, in node 5's name, that node 5 moved to an address it controls.
    payload = alive_payload(victim.node_id, EVIL, 1, 99, victim.chain)
    forged = Alive(victim.node_id, EVIL, 1, 99, victim.chain, forger.sign(payload))
    sim.deliver(0, sim.addresses[6], [forged], at=1.5)
    sim.run_until(20.0)
    for node in sim.live():
        if node == 5:
            continue
        core = sim.cores[node]
        assert core is not None
        record = next(m for m in core.members() if m.node_id == victim.node_id)
        assert record.address == sim.addresses[5]
        assert record.incarnation < 99
    assert recorder.false_deaths == []


def test_a_node_that_was_never_enrolled_is_not_admitted() -> None:
    sim, _ = build(12, seed=2)
    outsider = SimRegistry(99).enroll(0)
    intruder = sign_alive(outsider, EVIL, 1, 0)
    sim.deliver(0, EVIL, [intruder], at=1.0)
    sim.run_until(20.0)
    for node in sim.live():
        core = sim.cores[node]
        assert core is not None
        assert outsider.node_id not in {m.node_id for m in core.members()}


def test_a_forged_owned_entry_is_refused() -> None:
    sim, _ = build(12, seed=2)
    victim, forger = sim.credentials[5], sim.credentials[6]
    payload = owned_payload(victim.node_id, 1, 50, "service/evil", b"x")
    forged = Owned(victim.node_id, 1, 50, "service/evil", b"x", forger.sign(payload))
    sim.deliver(0, sim.addresses[6], [forged], at=1.0)
    sim.run_until(20.0)
    for node in sim.live():
        core = sim.cores[node]
        assert core is not None
        assert "service/evil" not in core.owned(victim.node_id)
