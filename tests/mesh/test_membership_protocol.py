"""Paired cores on a fake clock: join, failure detection, refutation, leave, restart, partitions."""

from __future__ import annotations

from mesh_harness import CONFIG, Creds, Net, Node
from micro.identity import KeyKind, SigningKey
from micro.mesh import (
    Alive,
    Leave,
    MemberFailed,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberState,
    MemberSuspected,
    Suspect,
    sign_alive,
)
from micro.mesh.trust import leave_payload


def converged(n: int = 4) -> tuple[Net, list[Node]]:
    net = Net()
    nodes = [net.add(i) for i in range(1, n + 1)]
    net.run(2.0)
    return net, nodes


def states(node: Node) -> dict[bytes, MemberState]:
    return {m.node_id: m.state for m in node.core.members()}


def test_join_by_push_pull_makes_everyone_alive_everywhere() -> None:
    net = Net()
    nodes = [net.add(i) for i in range(1, 5)]
    net.run(1.0)
    for node in nodes:
        assert states(node) == {n.id: MemberState.ALIVE for n in nodes}
    joined = {e.member.node_id for e in nodes[0].events if isinstance(e, MemberJoined)}
    assert joined == {n.id for n in nodes[1:]}


def test_killed_node_is_suspected_then_declared_dead_within_the_suspicion_bounds() -> None:
    net, nodes = converged()
    victim = nodes[3]
    killed_at = net.now
    net.kill(victim)
    net.run(3.0)
    # local(): probe 0.2 s (+0.2 s to fail), suspicion 0.3 s .. 0.9 s: dead within ~1.5 s everywhere
    for node in nodes[:3]:
        assert node.state_of(victim) is MemberState.DEAD
        about = [
            (t, type(e)) for t, e in node.log if getattr(e, "member", None) and e.member.node_id == victim.id
        ]
        suspected = next(t for t, kind in about if kind is MemberSuspected)
        failed = next(t for t, kind in about if kind is MemberFailed)
        assert killed_at < suspected < failed <= killed_at + 1.5


def test_member_unreachable_from_one_prober_is_kept_alive_by_indirect_probes() -> None:
    net, nodes = converged()
    net.cut([nodes[0]], [nodes[1]])
    net.run(10.0)
    assert states(nodes[0])[nodes[1].id] is MemberState.ALIVE
    assert all(n.core.stats.refutations == 0 for n in nodes)
    assert nodes[0].core.stats.indirect_probes > 0


def test_suspected_node_refutes_with_a_higher_incarnation() -> None:
    net, nodes = converged()
    accuser, target = nodes[0], nodes[1]
    net.inject(accuser, target, [Suspect(target.id, target.generation, 0, accuser.id)])
    net.run(1.0)
    assert target.core.stats.refutations == 1
    assert target.core.incarnation == 1
    for node in nodes:
        member = next(m for m in node.core.members() if m.node_id == target.id)
        assert (member.state, member.incarnation) == (MemberState.ALIVE, 1)


def test_suspicion_spread_by_gossip_is_refuted_and_reported_as_recovered() -> None:
    net, nodes = converged()
    accuser, target = nodes[0], nodes[1]
    net.cut([target], nodes[2:])  # target hears nothing from the others...
    net.inject(accuser, nodes[2], [Suspect(target.id, target.generation, 0, accuser.id)])
    net.run(0.05)
    net.heal()  # ...until the suspicion has spread; it refutes once it hears of it
    net.run(2.0)
    assert states(nodes[2])[target.id] is MemberState.ALIVE
    kinds = [type(e) for e in nodes[2].events]
    assert kinds.index(MemberSuspected) < kinds.index(MemberRecovered)


def test_graceful_leave_is_left_everywhere() -> None:
    net, nodes = converged()
    nodes[2].core.leave(net.now)
    net.run(0.0)
    net.run(1.0)
    for node in (nodes[0], nodes[1], nodes[3]):
        assert node.state_of(nodes[2]) is MemberState.LEFT
        assert any(isinstance(e, MemberLeft) and e.member.node_id == nodes[2].id for e in node.events)
    assert nodes[2].core.left


def test_forged_leave_is_dropped_and_counted() -> None:
    net, nodes = converged()
    forger, victim = nodes[0], nodes[1]
    payload = leave_payload(victim.id, victim.generation, 0)
    forged = Leave(victim.id, victim.generation, 0, forger.creds.sign(payload))
    net.inject(forger, nodes[2], [forged])
    net.run(1.0)
    assert nodes[2].state_of(victim) is MemberState.ALIVE
    assert nodes[2].core.stats.dropped_bad_signature == 1


def test_alive_claim_signed_by_the_wrong_key_is_dropped_and_counted() -> None:
    net, nodes = converged()
    forger, victim = nodes[0], nodes[1]
    genuine = sign_alive(victim.creds, "6.6.6.6:1", victim.generation, 5)
    forged = Alive(
        genuine.node_id,
        genuine.address,
        genuine.generation,
        genuine.incarnation,
        genuine.chain,
        forger.creds.sign(b"not the payload"),
    )
    net.inject(forger, nodes[2], [forged])
    net.run(1.0)
    member = next(m for m in nodes[2].core.members() if m.node_id == victim.id)
    assert (member.address, member.incarnation) == (victim.address, 0)
    assert nodes[2].core.stats.dropped_bad_signature == 1


def test_node_whose_chain_does_not_lead_to_the_root_is_not_admitted() -> None:
    net, nodes = converged(2)
    rogue_root = SigningKey.from_seed(KeyKind.MESH, b"x" * 32)
    rogue = Creds(99, root=rogue_root)
    claim = sign_alive(rogue, "10.0.0.99:7946", 1, 0)
    net.inject(nodes[1], nodes[0], [claim])
    net.inject(nodes[1], nodes[0], [claim])
    net.run(1.0)
    assert rogue.node_id not in states(nodes[0])
    assert nodes[0].core.stats.dropped_unadmitted == 2


def test_admission_is_checked_once_per_chain() -> None:
    net, nodes = converged()
    before = nodes[0].verifier.admit_calls
    net.inject(nodes[1], nodes[2], [Suspect(nodes[3].id, 1, 0, nodes[1].id)])
    net.run(2.0)  # nodes[3] refutes: a new alive claim, with the same chain
    member = next(m for m in nodes[0].core.members() if m.node_id == nodes[3].id)
    assert member.incarnation == 1
    assert nodes[0].verifier.admit_calls == before


def test_restart_with_a_higher_generation_supersedes_dead_without_join() -> None:
    net, nodes = converged()
    victim = nodes[3]
    net.kill(victim)
    net.run(3.0)
    assert nodes[0].state_of(victim) is MemberState.DEAD
    claims = [sign_alive(n.creds, n.address, n.generation, 0) for n in nodes]  # its members file
    reborn = net.add(4, generation=2, known=claims, join=False)
    net.run(2.0)
    for node in [*nodes[:3], reborn]:
        member = next(m for m in node.core.members() if m.node_id == victim.id)
        assert (member.state, member.generation) == (MemberState.ALIVE, 2)
    assert any(isinstance(e, MemberJoined) and e.member.generation == 2 for e in nodes[0].events)


def test_stale_suspicion_of_a_previous_generation_is_ignored() -> None:
    net, nodes = converged()
    net.inject(nodes[0], nodes[1], [Suspect(nodes[2].id, 0, 7, nodes[0].id)])
    net.run(0.5)
    assert nodes[1].state_of(nodes[2]) is MemberState.ALIVE
    assert nodes[1].core.stats.dropped_stale >= 1


def test_partitioned_halves_merge_again_by_reconnecting_to_dead_members() -> None:
    net, nodes = converged()
    left, right = nodes[:2], nodes[2:]
    net.cut(left, right)
    net.run(5.0)
    assert nodes[0].state_of(nodes[3]) is MemberState.DEAD
    assert nodes[3].state_of(nodes[0]) is MemberState.DEAD
    net.heal()
    net.run(4 * CONFIG.reconnect_interval)
    for node in nodes:
        assert set(states(node).values()) == {MemberState.ALIVE}, node.address


def test_dead_members_are_reaped_after_dead_reap_time() -> None:
    net, nodes = converged(3)
    net.kill(nodes[2])
    net.run(3.0)
    assert nodes[2].id in states(nodes[0])
    net.run(CONFIG.dead_reap_time)
    assert nodes[2].id not in states(nodes[0])


def test_a_member_that_died_again_is_reaped_only_after_its_last_death() -> None:
    net, nodes = converged()
    victim = nodes[3]
    claims = [sign_alive(n.creds, n.address, n.generation, 0) for n in nodes]
    net.kill(victim)
    net.run(3.0)  # dead: its first reap falls due dead_reap_time from here
    reborn = net.add(4, generation=2, known=claims, join=False)
    net.run(2.0)
    assert nodes[0].state_of(victim) is MemberState.ALIVE
    net.run(CONFIG.dead_reap_time / 2)
    net.kill(reborn)
    net.run(3.0)
    assert nodes[0].state_of(victim) is MemberState.DEAD
    net.run(CONFIG.dead_reap_time / 2)  # past the first death's reap: this death's record stays
    assert nodes[0].state_of(victim) is MemberState.DEAD
    net.run(CONFIG.dead_reap_time / 2)
    assert victim.id not in states(nodes[0])
    assert any(isinstance(e, MemberReaped) and e.node_id == victim.id for e in nodes[0].events)


def test_no_gossip_datagrams_once_rumours_are_spent() -> None:
    net, nodes = converged()
    net.run(5.0)
    before = [n.core.stats.gossip_datagrams for n in nodes]
    net.run(10.0)
    assert [n.core.stats.gossip_datagrams for n in nodes] == before


def test_a_quiet_mesh_wakes_only_for_probes_and_anti_entropy() -> None:
    net, nodes = converged()
    net.run(5.0)
    core = nodes[0].core
    timer = core.get_timer()
    assert timer is not None and net.now < timer <= net.now + CONFIG.probe_interval


def test_verifier_is_not_asked_again_for_a_claim_already_held() -> None:
    net, nodes = converged(3)
    calls = nodes[0].verifier.admit_calls
    claim = sign_alive(nodes[1].creds, nodes[1].address, 1, 0)
    for _ in range(3):
        net.inject(nodes[2], nodes[0], [claim])
    net.run(0.1)
    assert nodes[0].verifier.admit_calls == calls
    assert nodes[0].core.stats.dropped_stale >= 3


def test_cores_started_from_known_claims_converge_without_join_or_admission() -> None:
    net = Net()
    creds = [Creds(i) for i in range(1, 4)]
    claims = [sign_alive(c, f"10.0.0.{i}:7946", 1, 0) for i, c in enumerate(creds, 1)]
    nodes = [net.add(i, known=claims, join=False) for i in range(1, 4)]
    net.run(2.0)
    assert all(n.verifier.admit_calls == 0 for n in nodes)
    assert all(set(states(n).values()) == {MemberState.ALIVE} and len(states(n)) == 3 for n in nodes)
