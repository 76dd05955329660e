"""Pubsub's routing decisions (`node/pubsub/routes.py`), table by table: where one publish goes (the
nodes with plain subscribers, the node chosen for each queue group), how queue-group turns are shared
by member count, and which member at a node gets a group's message."""

from __future__ import annotations

from collections import Counter

import pytest
from micro.node.pubsub.routes import Destination, Route, Turns, choose_node, pick_member

HERE = b""

# (local subscribers' groups, remote records (node, group, subscribers),
#  what each of the first publishes gives: (groups delivered here, destinations))
ROUTES = [
    pytest.param([], [], [((), [])], id="nobody subscribes"),
    pytest.param([""], [], [((), [])] * 2, id="a plain subscriber here only"),
    pytest.param([], [(b"c", "", 1), (b"a", "", 3), (b"b", "", 1)],
                 [((), [Destination(b"a", True, ()), Destination(b"b", True, ()), Destination(b"c", True, ())])] * 2,
                 id="each node with plain subscribers gets it once, in node order"),
    pytest.param(["g"], [(b"a", "g", 2)],
                 [(["g"], []), ((), [Destination(b"a", False, ["g"])]), ((), [Destination(b"a", False, ["g"])]),
                  (["g"], [])],
                 id="a group's turns go to its nodes by member count, this node's members counted"),
    pytest.param([], [(b"a", "g", 1), (b"a", "", 1), (b"b", "", 1)],
                 [((), [Destination(b"a", True, ["g"]), Destination(b"b", True, ())])],
                 id="a node with plain subscribers chosen for a group gets one message"),
    pytest.param([], [(b"a", "g", 1), (b"a", "h", 1)],
                 [((), [Destination(b"a", False, ["g", "h"])])],
                 id="two groups chosen on one node go in one message"),
    pytest.param([], [(b"a", "g", 1), (b"b", "g", 1), (b"a", "g", 1)],
                 [((), [Destination(b"a", False, ["g"])]), ((), [Destination(b"a", False, ["g"])]),
                  ((), [Destination(b"b", False, ["g"])])],
                 id="a node's records of one group add up"),
]


@pytest.mark.parametrize(("local", "remote", "publishes"), ROUTES)
def test_a_route_sends_each_publish_where_the_subscriptions_say(
        local: list[str], remote: list[tuple[bytes, str, int]],
        publishes: list[tuple[list[str], list[Destination[bytes]]]]) -> None:
    route = Route(HERE, local, remote)
    turns = Turns()
    for here, destinations in publishes:
        got_here, got = route.choose(turns)
        assert (list(got_here), list(got)) == (list(here), destinations)


def test_a_plain_subscriber_here_is_told_apart_from_a_group_member_here() -> None:
    assert Route(HERE, [""], []).plain_here
    assert not Route(HERE, ["g"], [(b"a", "", 1)]).plain_here


# (members by node, turn, the node chosen)
CHOICES = [
    ({b"a": 1}, 0, b"a"),
    ({b"a": 1}, 7, b"a"),
    ({b"b": 1, b"a": 1}, 0, b"a"),
    ({b"b": 1, b"a": 1}, 1, b"b"),
    ({b"a": 1, b"b": 3}, 1, b"b"),
    ({b"a": 1, b"b": 3}, 3, b"b"),
    ({b"a": 1, b"b": 3}, 4, b"a"),
    ({HERE: 2, b"a": 1}, 1, HERE),
    ({HERE: 2, b"a": 1}, 2, b"a"),
]


@pytest.mark.parametrize(("members", "turn", "chosen"), CHOICES)
def test_a_group_turn_falls_on_the_nodes_in_order_each_taking_one_per_member(
        members: dict[bytes, int], turn: int, chosen: bytes) -> None:
    assert choose_node(members, turn) == chosen


def test_over_many_turns_each_node_gets_its_members_share() -> None:
    members = {b"a": 1, b"b": 2, b"c": 5}
    shares = Counter(choose_node(members, turn) for turn in range(800))
    assert shares == {b"a": 100, b"b": 200, b"c": 500}


def test_nodes_are_chosen_the_same_whatever_order_they_were_reported_in() -> None:
    assert [choose_node({b"b": 2, b"a": 1}, t) for t in range(6)] == [choose_node({b"a": 1, b"b": 2}, t)
                                                                     for t in range(6)]


def test_turns_advance_per_name_and_start_again_past_their_limit() -> None:
    turns = Turns(limit=2)
    assert [turns.take("g"), turns.take("g"), turns.take("h"), turns.take("g")] == [0, 1, 0, 2]
    assert turns.take("k") == 0  # a third name: the table starts afresh
    assert turns.take("g") == 0


# (which members have room, turn, the index of the member chosen)
MEMBERS = [
    ([True, True, True], 0, 0),
    ([True, True, True], 4, 1),
    ([False, True, True], 0, 1),
    ([True, False, False], 1, 0),
    ([True, True, False], 2, 0),
    ([False, False, False], 5, 2),
]


@pytest.mark.parametrize(("room", "turn", "chosen"), MEMBERS)
def test_a_group_message_goes_to_the_member_in_turn_or_the_next_with_room(
        room: list[bool], turn: int, chosen: int) -> None:
    members = list(range(len(room)))
    assert pick_member(members, turn, lambda member: room[member]) == chosen
