"""Event streams' replica decisions (`node/streams/replicas.py`), table by table: how members rank for a
partition, whom an origin copies to and how many must acknowledge, and where a read is served from."""

from __future__ import annotations

from collections import Counter

import pytest
from micro.node.streams.replicas import copy_plan, rank, read_sources, reads_here

MEMBERS = [f"N{i}" for i in range(8)]


def test_every_node_ranks_the_members_of_a_partition_the_same_whatever_their_order() -> None:
    ranked = rank("orders", "N0", MEMBERS)
    assert sorted(ranked) == MEMBERS
    assert rank("orders", "N0", reversed(MEMBERS)) == ranked
    assert rank("orders", "N0", set(MEMBERS)) == ranked


def test_a_member_leaving_changes_no_one_elses_rank() -> None:
    for topic in ("a", "b", "c", "d"):
        ranked = rank(topic, "N0", MEMBERS)
        gone = ranked[0]
        assert rank(topic, "N0", [m for m in MEMBERS if m != gone]) == ranked[1:]


@pytest.mark.parametrize("partitions", [[(f"topic{i}", "N0") for i in range(400)],
                                        [("orders", f"O{i}") for i in range(400)]], ids=["topics", "origins"])
def test_partitions_spread_their_first_replica_over_the_members(partitions: list[tuple[str, str]]) -> None:
    firsts = Counter(rank(topic, origin, MEMBERS)[0] for topic, origin in partitions)
    assert set(firsts) == set(MEMBERS)
    assert min(firsts.values()) > 20  # roughly even: 50 each


def _ranked(topic: str) -> list[str]:
    return rank(topic, "O", ["a", "b", "c", "d"])


# (live members, nodes holding a copy, replicas wanted, how many must acknowledge)
NEEDED = [
    (["a", "b", "c", "d"], set(), 2, 2),
    (["a", "b", "c", "d"], set(), 9, 4),
    (["a"], set(), 2, 1),
    ([], set(), 2, 0),
    (["a", "b"], {"a", "b", "x"}, 1, 1),
]


@pytest.mark.parametrize(("members", "holders", "replicas", "needed"), NEEDED)
def test_an_origin_needs_as_many_acknowledgements_as_replicas_or_live_members(
        members: list[str], holders: set[str], replicas: int, needed: int) -> None:
    order, got = copy_plan("t", "O", members, holders, replicas)
    assert got == needed
    assert sorted(order) == sorted(members)


@pytest.mark.parametrize("holders", [set(), {"c"}, {"d", "a"}, {"a", "b", "c", "d"}, {"x"}])
def test_members_holding_a_copy_come_first_and_each_part_keeps_its_rank(holders: set[str]) -> None:
    ranked = _ranked("t")
    order, _ = copy_plan("t", "O", ["a", "b", "c", "d"], holders, 2)
    assert order == [m for m in ranked if m in holders] + [m for m in ranked if m not in holders]


def test_a_node_joining_takes_over_no_partition_that_has_its_replicas() -> None:
    # Whatever the newcomer's rank, the members holding copies stay the first k to copy to.
    for topic in (f"t{i}" for i in range(20)):
        order, needed = copy_plan(topic, "O", ["a", "b", "new"], {"a", "b"}, 2)
        assert order[:needed] in (["a", "b"], ["b", "a"])


# (from offset, limit, holders (node -> (first, head)), whether this node "me" serves the read)
HERE = [
    pytest.param(0, 10, {}, True, id="nobody holds it"),
    pytest.param(0, 10, {"me": (1, 9), "O": (1, 9)}, True, id="everything, and this copy is as high as any"),
    pytest.param(0, 10, {"me": (1, 8), "O": (1, 9)}, False, id="everything, and a copy is higher"),
    pytest.param(3, 5, {"me": (1, 7), "O": (1, 9)}, True, id="this copy holds the whole range asked"),
    pytest.param(3, 6, {"me": (1, 7), "O": (1, 9)}, False, id="the range asked runs past this copy"),
    pytest.param(5, 100, {"me": (1, 9), "O": (1, 9)}, True, id="a range past every head"),
    pytest.param(1, 10, {"O": (1, 9)}, False, id="this node holds none of it"),
]


@pytest.mark.parametrize(("from_offset", "limit", "holders", "here"), HERE)
def test_a_read_is_served_here_when_this_copy_reaches_what_is_wanted(
        from_offset: int, limit: int, holders: dict[str, tuple[int, int]], here: bool) -> None:
    assert reads_here("me", holders, from_offset, limit) is here


# (holders (node -> (first, head)), live members other than "me", the nodes to ask in order)
SOURCES = [
    pytest.param({"O": (1, 5), "a": (1, 9), "b": (1, 7)}, {"O", "a", "b"}, ["O", "a", "b"],
                 id="the origin first, then the highest heads"),
    pytest.param({"O": (1, 5), "a": (1, 7), "b": (1, 9)}, {"a", "b"}, ["b", "a"], id="a dead origin is not asked"),
    pytest.param({"O": (1, 9), "a": (1, 9), "me": (1, 4)}, {"a"}, ["a", "me"],
                 id="this node's shorter copy is the last resort"),
    pytest.param({"O": (1, 9), "a": (1, 9)}, set(), [], id="no live holder and no copy here"),
    pytest.param({"me": (1, 4)}, {"me"}, ["me"], id="this node is asked once, last"),
]


@pytest.mark.parametrize(("holders", "alive", "sources"), SOURCES)
def test_a_read_asks_the_live_origin_then_the_highest_heads(
        holders: dict[str, tuple[int, int]], alive: set[str], sources: list[str]) -> None:
    assert read_sources("O", "me", holders, alive) == sources
