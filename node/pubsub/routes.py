"""Where a pubsub message goes: pubsub's routing decisions, pure (no IO, no clock, no randomness), so
the node (`service.Pubsub`) and the simulator (`simulations.pubsub`) route by the same code.

A `Route` is what the subscriptions matching one topic say, as one node sees them: whether a plain
subscriber here matches, the other nodes with a matching plain subscription, and each matching queue
group's members counted by node (this node's under the key the caller names `here`). For one publish,
`Route.choose` picks the node that delivers to each queue group, round robin over the group's nodes
weighted by their member count (so each member gets its share wherever it runs), and answers the groups
to deliver to here and the other nodes to send the message to: each once, in node order, with whether
its plain subscribers get it and the groups it hands on. The node that receives it gives each of those
groups' messages to one of its members with `pick_member`: the next in turn that has room.

Round-robin positions are passed in (`Turns`, one table per node and purpose), so a decision depends on
its inputs only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Generic, NamedTuple, TypeVar

__all__ = ["Destination", "Route", "Turns", "choose_node", "pick_member"]

N = TypeVar("N", bytes, int)
"""A node as the caller names it: its id in the node, its index in the simulator."""
S = TypeVar("S")

MAX_TURNS = 4096
"""Round-robin positions a `Turns` keeps (one per group name seen); beyond this all start again."""


class Turns:
    """Round-robin positions by name (a queue group's), each advanced as it is taken. Group names come
    and go, so the table is bounded: past `limit` names it starts again from zero."""

    __slots__ = ("_limit", "_turns")

    def __init__(self, limit: int = MAX_TURNS) -> None:
        self._limit = limit
        self._turns: dict[str, int] = {}

    def take(self, name: str) -> int:
        """The position of `name`, then advanced by one."""
        turns = self._turns
        if name not in turns and len(turns) >= self._limit:
            turns.clear()
        turn = turns.get(name, 0)
        turns[name] = turn + 1
        return turn


def choose_node(members: Mapping[N, int], turn: int) -> N:
    """The node that delivers a queue group's message at `turn`: `members` (node -> member count) laid
    out in node order, each node taking as many turns as it has members."""
    slot = turn % sum(members.values())
    for node in sorted(members):
        slot -= members[node]
        if slot < 0:
            return node
    raise AssertionError("a slot below the total always falls on a node")


class Destination(NamedTuple, Generic[N]):
    """A node a message is sent to: whether its plain subscribers get it, and the queue groups it hands
    the message to one member of."""

    node: N
    plain: bool
    groups: Sequence[str]


class Route(Generic[N]):
    """Where messages on one topic go as the subscriptions stand. `local_groups` is the group of each
    matching subscriber at this node ("" for a plain one); `remote` is each matching subscription record
    of another node as (node, group or "", subscribers). Build one per topic and keep it until a
    subscription changes."""

    __slots__ = ("_plain_only", "groups", "here", "plain", "plain_here")
    here: N
    plain_here: bool
    groups: dict[str, dict[N, int]]
    """Each matching queue group's members by node."""
    plain: frozenset[N]
    """The other nodes with a matching plain subscription."""
    _plain_only: list[Destination[N]]

    def __init__(self, here: N, local_groups: Iterable[str], remote: Iterable[tuple[N, str, int]]) -> None:
        self.here = here
        self.plain_here = False
        groups: dict[str, dict[N, int]] = {}
        for group in local_groups:
            if group:
                members = groups.setdefault(group, {})
                members[here] = members.get(here, 0) + 1
            else:
                self.plain_here = True
        plain: set[N] = set()
        for node, group, count in remote:
            if group:
                members = groups.setdefault(group, {})
                members[node] = members.get(node, 0) + count
            else:
                plain.add(node)
        self.groups = groups
        self.plain = frozenset(plain)
        # Most topics have no queue group: their destinations are the same for every publish.
        self._plain_only = [Destination(node, True, ()) for node in sorted(plain)]

    def choose(self, turns: Turns) -> tuple[Sequence[str], Sequence[Destination[N]]]:
        """For one publish: the queue groups a member here gets it for, and the other nodes it is sent
        to, in node order. Takes each group's turn from `turns`. The answer is not to be changed."""
        if not self.groups:
            return (), self._plain_only
        chosen: dict[N, list[str]] = {}
        for group, members in self.groups.items():
            chosen.setdefault(choose_node(members, turns.take(group)), []).append(group)
        here = chosen.pop(self.here, ())
        plain = self.plain
        nodes = sorted(plain.union(chosen))
        return here, [Destination(node, node in plain, chosen.get(node, ())) for node in nodes]


def pick_member(members: Sequence[S], turn: int, has_room: Callable[[S], bool]) -> S:
    """The member of a queue group at this node that gets a message: from the one at `turn` on, the
    first that `has_room`; when none has, the one at `turn` (whose full queue drops it, counted)."""
    count = len(members)
    for step in range(count):
        member = members[(turn + step) % count]
        if has_room(member):
            return member
    return members[turn % count]
