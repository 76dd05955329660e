"""Paired cores on a fake clock: join, failure detection, refutation, leave, restart, partitions."""

from __future__ import annotations

from mesh_harness import CONFIG, Net
from micro.mesh import MemberFailed, MemberJoined, MemberState, MemberSuspected


def test_join_by_push_pull_makes_everyone_alive_everywhere() -> None:
    net = Net()
    nodes = [net.add(i) for i in range(1, 5)]
    net.run(1.0)
    for node in nodes:
        assert {m.node_id for m in node.core.members() if m.state is MemberState.ALIVE} == {n.id for n in nodes}
    joined = {e.member.node_id for e in nodes[0].events if isinstance(e, MemberJoined)}
    assert joined == {n.id for n in nodes[1:]}


def test_killed_node_is_suspected_then_declared_dead() -> None:
    net = Net()
    nodes = [net.add(i) for i in range(1, 5)]
    net.run(2.0)
    victim = nodes[3]
    killed_at = net.now
    net.kill(victim)
    net.run(3.0)
    for node in nodes[:3]:
        assert node.state_of(victim) is MemberState.DEAD
        kinds = [type(e) for e in node.events if getattr(e, "member", None) and e.member.node_id == victim.id]
        assert kinds.index(MemberSuspected) < kinds.index(MemberFailed)
    # local(): probe 0.2 s (+0.2 s to fail), suspicion 0.3 s .. 0.9 s: dead within ~1.5 s everywhere
    for node in nodes[:3]:
        failed = [t for t, e in node.log if isinstance(e, MemberFailed) and e.member.node_id == victim.id]
        assert killed_at + CONFIG.probe_interval < failed[0] <= killed_at + 1.5
