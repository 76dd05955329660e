"""Node-owned state: signed by its owner, spread by gossip and anti-entropy, dropped when it leaves."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mesh_harness import CONFIG, Net, Node
from micro.mesh import InvalidArgument, Owned, OwnedStateChanged
from micro.mesh.trust import owned_payload, sign_owned


def converged(n: int = 3) -> tuple[Net, list[Node]]:
    net = Net()
    nodes = [net.add(i) for i in range(1, n + 1)]
    net.run(2.0)
    return net, nodes


def test_set_and_delete_spread_to_every_member() -> None:
    net, nodes = converged()
    owner = nodes[0]
    owner.core.set_local("svc/greeter", b"10.0.0.1:9000", net.now)
    owner.core.set_local("health", b"ok", net.now)
    net.run(1.0)
    for node in nodes:
        assert node.core.owned(owner.id) == {"svc/greeter": b"10.0.0.1:9000", "health": b"ok"}
    owner.core.set_local("svc/greeter", None, net.now)
    net.run(1.0)
    for node in nodes[1:]:
        assert node.core.owned(owner.id) == {"health": b"ok"}
        assert OwnedStateChanged(owner.id, "svc/greeter", None) in node.events


def test_owned_state_reaches_a_late_joiner_by_push_pull() -> None:
    net, nodes = converged(2)
    nodes[0].core.set_local("k", b"v", net.now)
    net.run(5.0)  # the rumour is spent
    late = net.add(9)
    net.run(1.0)
    assert late.core.owned(nodes[0].id) == {"k": b"v"}


def test_a_node_that_missed_every_push_gets_the_rumour_on_its_next_probe_ack() -> None:
    net = Net(config=replace(CONFIG, push_pull_interval=1000.0))
    nodes = [net.add(i) for i in range(1, 5)]
    net.run(2.0)
    isolated = nodes[3]
    net.cut([isolated], nodes[:3])
    nodes[0].core.set_local("k", b"v", net.now)
    net.run(0.5)  # every push is spent while the link is cut
    assert isolated.core.owned(nodes[0].id) == {}
    net.heal()
    net.run(2 * CONFIG.probe_interval)
    assert isolated.core.owned(nodes[0].id) == {"k": b"v"}


def test_forged_entry_is_dropped_and_counted() -> None:
    net, nodes = converged()
    forger, victim = nodes[0], nodes[1]
    payload = owned_payload(victim.id, victim.generation, 1, "k", b"evil")
    net.inject(
        forger, nodes[2], [Owned(victim.id, victim.generation, 1, "k", b"evil", forger.creds.sign(payload))]
    )
    net.run(0.5)
    assert nodes[2].core.owned(victim.id) == {}
    assert nodes[2].core.stats.dropped_bad_signature == 1


def test_owned_state_is_dropped_when_the_owner_leaves() -> None:
    net, nodes = converged()
    nodes[1].core.set_local("k", b"v", net.now)
    net.run(1.0)
    nodes[1].core.leave(net.now)
    net.run(1.0)
    assert nodes[0].core.owned(nodes[1].id) == {}
    assert OwnedStateChanged(nodes[1].id, "k", None) in nodes[0].events


def test_older_write_does_not_overwrite_a_newer_one() -> None:
    net, nodes = converged()
    nodes[0].core.set_local("k", b"old", net.now)
    nodes[0].core.set_local("k", b"new", net.now)
    old = sign_owned(nodes[0].creds, nodes[0].generation, 1, "k", b"old")  # exactly the first write
    net.run(1.0)
    net.inject(nodes[0], nodes[1], [old])
    net.run(0.5)
    assert nodes[1].core.owned(nodes[0].id) == {"k": b"new"}
    assert nodes[1].core.stats.dropped_stale >= 1


def test_caller_mistakes_raise_invalid_argument() -> None:
    net, nodes = converged(1)
    with pytest.raises(InvalidArgument):
        nodes[0].core.set_local("x" * 1000, b"v", net.now)
    with pytest.raises(InvalidArgument):
        nodes[0].core.set_local("k", "not bytes", net.now)  # type: ignore[arg-type]
