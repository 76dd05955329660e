"""Revoking a member (`MeshCore.revoke`, `Wire.refuse`): cores on a fake clock, as the node drives them when
its auth state shows a node revocation."""

from __future__ import annotations

from mesh_harness import KEYRING, Net, Node
from micro.mesh import MemberState, OwnedStateChanged, Ping, Wire


def converged(n: int = 4) -> tuple[Net, list[Node]]:
    net = Net()
    nodes = [net.add(i) for i in range(1, n + 1)]
    net.run(2.0)
    return net, nodes


def revoke(net: Net, node: Node, revoked: Node) -> None:
    """What the node's runtime does: its wire refuses the member's frames and its core the member."""
    node.wire.refuse(revoked.id)
    node.core.revoke(revoked.id, net.now)
    net._flush(node)


def test_a_revoked_member_is_declared_dead_by_every_member_that_revoked_it() -> None:
    net, nodes = converged()
    *others, revoked = nodes
    for node in others:
        revoke(net, node, revoked)
    net.run(5.0)
    for node in others:
        assert node.state_of(revoked) is MemberState.DEAD
        assert {n.id for n in others} <= {m.node_id for m in node.core.members() if m.state is MemberState.ALIVE}


def test_a_revoked_member_cannot_come_back_alive_by_refuting() -> None:
    net, nodes = converged()
    a, b, _, revoked = nodes
    revoke(net, a, revoked)  # only a: the others still carry the revoked member's refutations to it
    net.run(5.0)
    assert revoked.core.stats.refutations > 0
    assert b.state_of(revoked) is MemberState.ALIVE
    assert a.state_of(revoked) is MemberState.DEAD
    assert a.core.stats.dropped_revoked > 0


def test_revoking_a_member_drops_its_owned_state() -> None:
    net, nodes = converged()
    a, *_, revoked = nodes
    revoked.core.set_local("services/billing", b"x", net.now)
    net._flush(revoked)
    net.run(1.0)
    assert dict(a.core.owned(revoked.id)) == {"services/billing": b"x"}
    revoke(net, a, revoked)
    assert dict(a.core.owned(revoked.id)) == {}
    assert OwnedStateChanged(revoked.id, "services/billing", None) in a.events


def test_nothing_is_sent_to_a_revoked_member_once_it_is_dead() -> None:
    net, nodes = converged()
    *others, revoked = nodes
    for node in others:
        revoke(net, node, revoked)
    net.run(1.0)  # what was in flight when it was revoked
    start = len(net.sent)
    net.run(10.0)  # ten reconnect intervals
    assert [(src, messages) for src, dst, messages in net.sent[start:] if dst == revoked.address
            and src != revoked.address] == []
    assert all(node.wire.stats.dropped_revoked > 0 for node in others)  # it kept trying


def test_a_member_revoked_before_it_joins_is_never_admitted() -> None:
    net = Net()
    a = net.add(1)
    b = net.add(2, join=False)  # created, not yet joined: revoked before a ever hears of it
    a.core.revoke(b.id, net.now)
    b.core.join([a.address], net.now)
    net._flush(b)
    net.run(3.0)
    assert a.state_of(b) is None
    assert a.core.stats.dropped_revoked > 0


def test_a_wire_drops_frames_of_a_refused_sender_and_counts_them() -> None:
    sender, receiver = Wire(KEYRING, b"s" * 32, 1), Wire(KEYRING, b"r" * 32, 1)
    assert receiver.open(sender.seal([Ping(1, b"r" * 32)]), 0.0) is not None
    receiver.refuse(b"s" * 32)
    assert receiver.open(sender.seal([Ping(2, b"r" * 32)]), 0.0) is None
    assert receiver.open(sender.seal([Ping(3, b"r" * 32)], reliable=True), 0.0, reliable=True) is None
    assert (receiver.stats.opened, receiver.stats.dropped_revoked) == (1, 2)
