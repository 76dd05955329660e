"""Probe order and random member picks (`mesh.probe.ProbeOrder`)."""

from __future__ import annotations

import random

from micro.mesh.membership import Membership, MemberTemplate
from micro.mesh.messages import Alive, Dead, Suspect
from micro.mesh.probe import ProbeOrder

IDS = [bytes([i]) * 32 for i in range(12)]
LOCAL = IDS[0]


def _address(i: int) -> str:
    return f"10.0.0.{i}:7946"


def _table() -> Membership:
    """Twelve members, this node (0) among them: 1 suspect, 2 dead, the rest alive."""
    table = Membership(MemberTemplate(Alive(node, _address(i), 1, 0, b"", b"s") for i, node in enumerate(IDS)))
    table.apply_statement(Suspect(IDS[1], 1, 0, IDS[3]))
    table.apply_statement(Dead(IDS[2], 1, 0, IDS[3]))
    return table


def test_sample_gives_distinct_addresses_of_live_members_other_than_this_node_and_the_excluded() -> None:
    order = ProbeOrder(random.Random(7), _table(), LOCAL)
    eligible = {_address(i) for i in range(1, 12) if i not in (2, 5)}
    seen: set[str] = set()
    for _ in range(200):
        picked = order.sample(3, exclude=IDS[5])
        assert len(picked) == 3 == len(set(picked))
        assert set(picked) <= eligible
        seen.update(picked)
    assert seen == eligible  # the suspect included: it is still probed and gossiped to


def test_sample_gives_fewer_when_fewer_are_eligible() -> None:
    table = Membership(MemberTemplate(Alive(node, _address(i), 1, 0, b"", b"s") for i, node in enumerate(IDS[:3])))
    table.apply_statement(Dead(IDS[2], 1, 0, IDS[0]))
    assert ProbeOrder(random.Random(1), table, LOCAL).sample(3) == [_address(1)]


def test_a_probe_pass_visits_every_live_member_once() -> None:
    order = ProbeOrder(random.Random(3), _table(), LOCAL)
    live = {IDS[i] for i in range(1, 12) if i != 2}
    first = [order.next() for _ in range(len(live))]
    second = [order.next() for _ in range(len(live))]
    assert set(first) == live == set(second)
