"""Anti-entropy: an order-independent incremental view hash, and deltas of exactly what a peer lacks."""

from __future__ import annotations

from mesh_harness import Net
from micro.mesh import Alive, Dead, MemberState, Owned, Sync
from micro.mesh.membership import Membership, MemberTemplate, Verdict
from micro.mesh.owned import OwnedStore
from micro.mesh.sync import delta, digest, push_pull_interval, view_hash

IDS = [bytes([i]) * 32 for i in range(1, 6)]


def alive(i: int, incarnation: int = 0) -> Alive:
    return Alive(IDS[i], f"10.0.0.{i}:1", 1, incarnation, b"", b"s")


def owned(i: int, counter: int, key: str = "k") -> Owned:
    return Owned(IDS[i], 1, counter, key, b"v", b"s")


def test_view_hash_does_not_depend_on_the_order_changes_arrived_in() -> None:
    a, b = Membership(), Membership()
    for i in range(5):
        a.apply_alive(alive(i))
    for i in reversed(range(5)):
        b.apply_alive(alive(i, 0))
    b.apply_statement(Dead(IDS[2], 1, 0, IDS[0]))
    b.apply_alive(alive(2, 1))
    a.apply_alive(alive(2, 1))
    sa, sb = OwnedStore(), OwnedStore()
    sa.apply(owned(1, 1))
    sa.apply(owned(1, 2))
    sb.apply(owned(1, 2))
    assert view_hash(a, sa) == view_hash(b, sb)
    sb.apply(owned(1, 3, "other"))
    assert view_hash(a, sa) != view_hash(b, sb)


def test_template_hash_matches_a_table_built_change_by_change() -> None:
    built = Membership()
    for i in range(5):
        built.apply_alive(alive(i))
    shared = Membership(MemberTemplate([alive(i) for i in range(5)]))
    assert built.view_hash == shared.view_hash and shared.live == 5


def test_delta_carries_only_what_the_peer_lacks() -> None:
    mine, theirs = Membership(), Membership()
    store, their_store = OwnedStore(), OwnedStore()
    for i in range(4):
        mine.apply_alive(alive(i))
    for i in range(3):
        theirs.apply_alive(alive(i))
    mine.apply_alive(alive(1, 2))
    store.apply(owned(0, 5))
    their_store.apply(owned(0, 4))
    store.apply(owned(0, 3, "old"))
    assert delta(mine, store, digest(theirs, their_store)) == [owned(0, 5), alive(1, 2), alive(3)]
    assert delta(theirs, their_store, digest(mine, store)) == []


def test_dead_members_are_not_sent_to_a_peer_that_never_knew_them() -> None:
    mine, theirs = Membership(), Membership()
    mine.apply_alive(alive(0))
    mine.apply_alive(alive(1))
    theirs.apply_alive(alive(0))
    dead = Dead(IDS[1], 1, 0, IDS[0])
    assert mine.judge_statement(dead) is Verdict.NEW
    mine.apply_statement(dead)
    assert mine.get(IDS[1]).state is MemberState.DEAD  # type: ignore[union-attr]
    assert delta(mine, OwnedStore(), digest(theirs, OwnedStore())) == []
    theirs.apply_alive(alive(1))
    assert delta(mine, OwnedStore(), digest(theirs, OwnedStore())) == [alive(1), dead]


def test_push_pull_interval_grows_with_log_of_the_mesh_beyond_32() -> None:
    assert [push_pull_interval(30.0, n) for n in (2, 32, 33, 64, 1000, 10_000)] == [30, 30, 60, 60, 180, 300]


def test_converged_peers_exchange_only_the_hash() -> None:
    net = Net()
    for i in range(1, 4):
        net.add(i)
    net.run(3 * net.config.push_pull_interval)
    net.sent.clear()
    net.run(3 * net.config.push_pull_interval)
    syncs = [m for _, _, messages in net.sent for m in messages if isinstance(m, Sync)]
    assert syncs and all(m.digest is None for m in syncs)
