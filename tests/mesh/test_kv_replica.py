"""The shared key-value map: last-writer-wins registers replicated by gossip and hash-tree anti-entropy."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mesh_harness import CONFIG, Net, Node
from mesh_kv_harness import EPOCH, mesh, put, read
from micro.mesh import InvalidArgument, KvChanged, KvEntry, KvPurged, KvWriter


def test_a_put_on_one_node_is_read_on_every_node() -> None:
    net, nodes = mesh()
    put(net, nodes[0], "greeting", b"hello")
    net.run(1.0)
    assert [read(net, n, "greeting") for n in nodes] == [b"hello"] * 3
    assert any(isinstance(e, KvChanged) and e.entry.key == "greeting" for e in nodes[2].events)


def test_concurrent_writes_converge_to_the_higher_stamp_everywhere() -> None:
    net, nodes = mesh()
    a = put(net, nodes[0], "k", b"from-a")
    b = put(net, nodes[1], "k", b"from-b")
    net.run(2.0)
    winner = max(a, b, key=lambda e: e.stamp)
    assert {read(net, n, "k") for n in nodes} == {winner.value}
    assert len({n.core.kv_root for n in nodes}) == 1


def test_equal_physical_and_logical_stamps_are_won_by_the_higher_writer_id() -> None:
    net, nodes = mesh(2)
    a = nodes[0].core.kv_write("default", "t", "k", b"a", None, net.now)
    b = nodes[1].core.kv_write("default", "t", "k", b"b", None, net.now)
    assert (a.physical_ms, a.logical) == (b.physical_ms, b.logical)
    nodes[0].core.kv_publish(a, net.now)
    nodes[1].core.kv_publish(b, net.now)
    net.run(2.0)
    expected = a.value if a.writer > b.writer else b.value
    assert read(net, nodes[0], "k") == read(net, nodes[1], "k") == expected


def test_a_delete_is_a_tombstone_that_wins_over_the_older_value() -> None:
    net, nodes = mesh()
    put(net, nodes[0], "k", b"v")
    net.run(1.0)
    put(net, nodes[1], "k", None)
    net.run(1.0)
    assert [read(net, n, "k") for n in nodes] == [None] * 3


def test_anti_entropy_repairs_writes_made_during_a_partition() -> None:
    net, nodes = mesh()
    net.cut(nodes[:1], nodes[1:])
    acked = [put(net, nodes[0], f"a{i}", b"x") for i in range(20)]
    acked += [put(net, nodes[2], f"c{i}", b"y") for i in range(20)]
    acked.append(put(net, nodes[2], "a3", b"overwritten"))
    net.run(5.0)
    net.heal()
    net.run(20.0)
    assert len({n.core.kv_root for n in nodes}) == 1
    for node in nodes:
        for entry in acked:
            held = node.core.kv_get("default", "t", entry.key, net.now)
            assert held is not None and held.stamp >= entry.stamp


def test_a_write_after_reading_supersedes_a_key_from_a_clock_five_minutes_ahead() -> None:
    net, nodes = mesh(3, offsets={1: 300.0})
    put(net, nodes[0], "k", b"from-the-future")
    net.run(1.0)
    assert read(net, nodes[1], "k") == b"from-the-future"
    put(net, nodes[1], "k", b"later")
    net.run(1.0)
    assert [read(net, n, "k") for n in nodes] == [b"later"] * 3


def test_a_register_too_far_ahead_of_the_local_clock_is_refused() -> None:
    net, nodes = mesh(2, offsets={1: 600.0})
    put(net, nodes[0], "k", b"v")
    net.run(1.0)
    assert read(net, nodes[1], "k") is None
    assert nodes[1].core.stats.kv_dropped_clock >= 1


def test_a_register_with_a_bad_signature_is_dropped_and_counted() -> None:
    net, nodes = mesh(2)
    entry = nodes[0].core.kv_write("default", "t", "k", b"v", None, net.now)
    net.inject(nodes[0], nodes[1], [replace(entry, value=b"forged")])
    net.run(0.5)
    assert read(net, nodes[1], "k") is None
    assert nodes[1].core.stats.dropped_bad_signature == 1


def put_together(net: Net, node: Node, keys: list[str]) -> list[KvEntry]:
    """Registers written in one call, signed together (as the node signs one request's puts)."""
    drafts = [node.core.kv_draft("default", "t", key, key.encode(), None, net.now) for key in keys]
    return node.core.kv_sign(drafts)


def kv_checks(node: Node) -> int:
    """Signature checks `node` made of key-value registers or their batch roots."""
    return sum(1 for data in node.verifier.verified if b"micro/kv" in data)


def test_registers_signed_together_reach_every_node_for_one_signature_check_each() -> None:
    net, nodes = mesh()
    keys = [f"k{i}" for i in range(50)]
    for entry in put_together(net, nodes[0], keys):
        nodes[0].core.kv_publish(entry, net.now)
    net.run(2.0)
    assert [[read(net, n, k) for k in keys] for n in nodes] == [[k.encode() for k in keys]] * 3
    assert [kv_checks(n) for n in nodes[1:]] == [1, 1]


def test_a_register_of_a_batch_whose_value_was_altered_is_dropped_and_the_rest_installed() -> None:
    net, nodes = mesh(2)
    entries = put_together(net, nodes[0], ["a", "b", "c"])
    entries[1] = replace(entries[1], value=b"forged")
    net.inject(nodes[0], nodes[1], entries)
    net.run(0.5)
    assert [read(net, nodes[1], k) for k in "abc"] == [b"a", None, b"c"]
    assert nodes[1].core.stats.dropped_bad_signature == 1


def test_a_batch_path_moved_to_another_register_is_refused() -> None:
    net, nodes = mesh(2)
    a, b = put_together(net, nodes[0], ["a", "b"])
    net.inject(nodes[0], nodes[1], [replace(a, signature=b.signature)])
    net.run(0.5)
    assert read(net, nodes[1], "a") is None
    assert nodes[1].core.stats.dropped_bad_signature == 1


def test_a_forged_root_signature_is_refused_after_the_real_one_checked() -> None:
    net, nodes = mesh(2)
    a, b = put_together(net, nodes[0], ["a", "b"])
    net.inject(nodes[0], nodes[1], [a])
    net.run(0.5)
    forged = bytes([b.signature[0] ^ 1]) + b.signature[1:]
    net.inject(nodes[0], nodes[1], [replace(b, signature=forged)])
    net.run(0.5)
    assert (read(net, nodes[1], "a"), read(net, nodes[1], "b")) == (b"a", None)
    assert nodes[1].core.stats.dropped_bad_signature == 1


def test_a_register_from_an_unknown_writer_needs_an_admitted_chain() -> None:
    net, nodes = mesh(2)
    stranger = Net(CONFIG).add(7, wall_offset=EPOCH)
    entry = stranger.core.kv_write("default", "t", "k", b"v", None, net.now)
    net.inject(nodes[0], nodes[1], [entry])
    net.run(0.5)
    assert read(net, nodes[1], "k") is None and nodes[1].core.stats.dropped_unknown == 1
    net.inject(nodes[0], nodes[1], [KvWriter(stranger.id, b"not a chain"), entry])
    net.run(0.5)
    assert read(net, nodes[1], "k") is None
    net.inject(nodes[0], nodes[1], [KvWriter(stranger.id, stranger.creds.chain), entry])
    net.run(0.5)
    assert read(net, nodes[1], "k") == b"v"


def test_a_key_with_a_ttl_disappears_on_every_node() -> None:
    net, nodes = mesh()
    put(net, nodes[0], "session", b"s", ttl=3.0)
    net.run(1.0)
    assert [read(net, n, "session") for n in nodes] == [b"s"] * 3
    net.run(3.0)
    assert [read(net, n, "session") for n in nodes] == [None] * 3


def test_tombstones_are_collected_once_every_member_synced_past_them() -> None:
    net, nodes = mesh()
    for i in range(50):
        put(net, nodes[i % 3], f"k{i}", b"v")
    net.run(1.0)
    for i in range(50):
        put(net, nodes[(i + 1) % 3], f"k{i}", None)
    net.run(30.0)
    for node in nodes:
        assert len(node.core._kv.map) == 0
        assert any(isinstance(e, KvPurged) for e in node.events)
    assert len({n.core.kv_root for n in nodes}) == 1


def test_an_old_value_of_a_collected_key_is_refused_even_once_the_floor_has_dropped() -> None:
    net, nodes = mesh()
    old = put(net, nodes[0], "k", b"v")
    net.run(1.0)
    put(net, nodes[1], "k", None)
    net.run(30.0)
    assert any(isinstance(e, KvPurged) and [x.key for x in e.entries] == ["k"] for e in nodes[0].events)
    # A new member has published no horizon (it holds nothing, so it collects nothing): the floor is 0.
    net.add(4, wall_offset=EPOCH)
    net.run(5.0)
    net.inject(nodes[2], nodes[0], [old])
    net.run(0.5)
    assert read(net, nodes[0], "k") is None
    assert nodes[0].core.stats.kv_dropped_collected == 1


def test_tombstones_stay_while_a_live_member_has_not_synced() -> None:
    net, nodes = mesh()
    put(net, nodes[0], "k", b"v")
    net.run(1.0)
    net.cut(nodes[2:], nodes[:2])
    put(net, nodes[0], "k", None)
    net.run(4.0)  # shorter than suspicion: the cut-off node is still a live member
    assert nodes[0].core._kv.map.mortal()


@pytest.mark.parametrize(
    ("db", "table", "key", "value", "ttl", "message"),
    [
        ("default", "t", "x" * 1025, b"v", None, "longer than 1024 bytes"),
        ("default", "t", "é" * 513, b"v", None, "longer than 1024 bytes"),
        ("default", "t", "", b"v", None, "non-empty"),
        ("default", "t", "k", b"v" * (1024 * 1024 + 1), None, "over the limit"),
        ("default", "t", "k", b"v", 0, "TTL"),
        ("default", "t", "k", b"v", float("inf"), "TTL"),
        ("default", "t", "k", b"v", float("nan"), "TTL"),
        ("default", "t", "k", b"v", 1e300, "TTL"),
    ],
)
def test_invalid_writes_are_refused_with_a_clear_message(db, table, key, value, ttl, message) -> None:
    net, nodes = mesh(1)
    with pytest.raises(InvalidArgument, match=message):
        nodes[0].core.kv_write(db, table, key, value, ttl, net.now)


def test_list_by_prefix_in_order_with_limit_and_offset() -> None:
    net, nodes = mesh(1)
    for key in ("b2", "a", "b1", "b3", "c"):
        put(net, nodes[0], key, key.encode())
    put(net, nodes[0], "b4", None)
    core = nodes[0].core
    assert [e.key for e in core.kv_list("default", "t", "b", net.now)] == ["b1", "b2", "b3"]
    assert [e.key for e in core.kv_list("default", "t", "b", net.now, limit=1, offset=1)] == ["b2"]
    assert [e.key for e in core.kv_list("default", "t", "", net.now, reverse=True)] == ["c", "b3", "b2", "b1", "a"]
    put(net, nodes[0], "x", b"1", db="other")
    assert core.kv_databases(net.now) == ["default", "other"]
    assert core.kv_tables("default", net.now) == ["t"]


def test_a_write_burst_beyond_what_datagrams_carry_arrives_within_a_few_gossip_rounds() -> None:
    net, nodes = mesh()
    for i in range(2000):
        put(net, nodes[0], f"burst/{i}", b"x" * 100)
    net.run(CONFIG.gossip_interval * 3)
    for node in nodes[1:]:
        assert len(node.core.kv_list("default", "t", "burst/", net.now)) == 2000
    # A datagram carries a handful of registers; the burst went over peer links in bulk.
    assert max(len(messages) for _, _, messages in net.sent) > 500
