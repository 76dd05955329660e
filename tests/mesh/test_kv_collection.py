"""Collection of deleted keys while members are away: a member that comes back, within the grace or
after it, never brings a deleted key back; one back within the grace keeps the writes it took while away;
and the replicas end identical."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mesh_harness import CONFIG, Creds, Net, Node, Verifier
from mesh_kv_harness import EPOCH, mesh, put, read, restart, run_until
from micro.mesh import KvPurged
from micro.mesh.counters import Counters
from micro.mesh.kv import KvReplica
from micro.mesh.membership import MemberState
from micro.mesh.trust import Admissions

COLLECTING = 30.0
"""Seconds of mesh time in which collection runs some fifteen times (push-pull every 2 s in `local`), short
of `dead_reap_time` (60 s), after which the two sides of a cut would no longer look for each other."""


def declared_dead(net: Net, observers: list[Node], member: Node) -> None:
    run_until(net, lambda: all(o.state_of(member) is MemberState.DEAD for o in observers), 10.0,
              "the member to be declared dead")


def identical(nodes: list[Node]) -> bool:
    return len({n.core.kv_root for n in nodes}) == 1


def purged(node: Node, key: str) -> bool:
    """Whether `node` collected (or discarded) a register of `key`."""
    return any(isinstance(e, KvPurged) and key in [x.key for x in e.entries] for e in node.events)


@pytest.mark.parametrize("reap", [CONFIG.dead_reap_time, 5.0], ids=["still-listed", "reaped"])
def test_a_member_killed_while_a_key_is_deleted_comes_back_with_the_old_value_and_the_key_stays_deleted(
        reap: float) -> None:
    net, (a, b, c) = mesh(config=replace(CONFIG, dead_reap_time=reap))
    put(net, a, "k", b"old")
    net.run(1.0)
    net.kill(c)
    declared_dead(net, [a, b], c)
    put(net, b, "k", None)
    net.run(COLLECTING)
    assert not purged(a, "k") and not purged(b, "k")  # the tombstone waits for c

    back = restart(net, c, 3, via=a)
    assert read(net, back, "k") == b"old"
    run_until(net, lambda: identical([a, b, back]), 20.0, "the replicas to be identical")
    assert [read(net, n, "k") for n in (a, b, back)] == [None] * 3


def test_a_member_cut_off_while_a_key_is_deleted_keeps_it_deleted_when_the_cut_heals() -> None:
    net, (a, b, c) = mesh()
    put(net, a, "k", b"old")
    net.run(1.0)
    net.cut([c], [a, b])
    declared_dead(net, [a, b], c)
    declared_dead(net, [c], a)
    put(net, b, "k", None)
    net.run(COLLECTING)

    assert read(net, c, "k") == b"old"
    net.heal()
    run_until(net, lambda: identical([a, b, c]), 30.0, "the replicas to be identical")
    assert [read(net, n, "k") for n in (a, b, c)] == [None] * 3


def test_writes_a_member_took_while_cut_off_are_kept_everywhere_when_the_cut_heals() -> None:
    net, (a, b, c) = mesh()
    net.cut([c], [a, b])
    declared_dead(net, [a, b], c)
    declared_dead(net, [c], a)
    put(net, c, "from-c", b"c")
    put(net, a, "from-a", b"a")
    net.run(COLLECTING)

    net.heal()
    run_until(net, lambda: identical([a, b, c]), 30.0, "the replicas to be identical")
    assert [(read(net, n, "from-c"), read(net, n, "from-a")) for n in (a, b, c)] == [(b"c", b"a")] * 3


def test_a_member_that_joined_while_another_was_cut_off_waits_for_it_too() -> None:
    net, (a, b, c) = mesh()
    net.cut([c], [a, b])
    declared_dead(net, [a, b], c)
    declared_dead(net, [c], a)
    newcomer = net.add(4, wall_offset=a.core.wall_offset)  # hears of c only as dead
    net.cut([c], [newcomer])
    put(net, c, "from-c", b"c")
    put(net, a, "from-a", b"a")
    net.run(COLLECTING)

    net.heal()
    run_until(net, lambda: identical([a, b, c, newcomer]), 30.0, "the replicas to be identical")
    assert [read(net, n, "from-c") for n in (a, b, c, newcomer)] == [b"c"] * 4


def test_a_member_away_past_the_grace_discards_the_old_value_and_the_replicas_settle() -> None:
    net, (a, b, c) = mesh(config=replace(CONFIG, kv_tombstone_grace=20.0))
    put(net, a, "k", b"old")
    net.run(1.0)
    net.kill(c)
    declared_dead(net, [a, b], c)
    put(net, b, "k", None)
    net.run(COLLECTING)  # past the grace: a and b collect the tombstone without waiting for c

    back = restart(net, c, 3, via=a)
    assert read(net, back, "k") == b"old"
    run_until(net, lambda: identical([a, b, back]), 20.0, "the replicas to be identical")
    assert [read(net, n, "k") for n in (a, b, back)] == [None] * 3
    assert purged(back, "k")  # the old value was discarded, not superseded by a tombstone
    refused = [n.core.stats.kv_dropped_collected for n in (a, b)]
    net.run(COLLECTING)
    assert identical([a, b, back])
    assert [n.core.stats.kv_dropped_collected for n in (a, b)] == refused  # nobody offers it any more


def replica(seed: int) -> KvReplica:
    return KvReplica(CONFIG, Creds(seed), Admissions(Verifier()), Counters(), lambda event: None)


def test_a_replica_not_yet_synced_with_anyone_accepts_registers_older_than_the_grace() -> None:
    # A new member may run collection before its first anti-entropy round ends: the grace lets it drop
    # what it holds, but what it lacks is the mesh's to send, however old.
    now_ms = int(EPOCH * 1000)
    old = replica(1).write("default", "t", "k", b"v", None, now_ms - 2 * int(CONFIG.kv_tombstone_grace * 1000))
    new = replica(2)
    new.know_member(Creds(1).node_id, Creds(1).chain)
    new.set_floor(0)
    new.collect(now_ms)
    assert new.receive(old, now_ms) is None
    assert new.get("default", "t", "k", now_ms) == old
