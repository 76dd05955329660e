"""Which instance answers a call: the order in which the router tries a service's instances, pure (no IO;
`now` is passed in).

`CallOrder.order` takes the instances that serve a call's endpoint and answers them in the order to try:
the healthy local ones first (no hop), then the healthy remote ones round robin (each service's turn
moves on with every call that has remote ones, so calls spread over them), then those found
unreachable lately, as a last resort. An instance the router could not reach is marked with
`unreachable(id, now)`: the call moves on to the next in order, and later calls try it only after every
other one for `UNHEALTHY_S`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, NamedTuple, TypeVar

__all__ = ["UNHEALTHY_S", "CallOrder", "Candidate"]

UNHEALTHY_S = 5.0
"""How long an unreachable instance is tried only after every other one."""

T = TypeVar("T")


class Candidate(NamedTuple, Generic[T]):
    """An instance that serves the endpoint: its id, whether it is registered at this node, and what
    the caller wants back for it."""

    id: str
    local: bool
    item: T


class CallOrder:
    """Each service's round-robin turn and the instances found unreachable lately."""

    def __init__(self) -> None:
        self._turns: dict[str, int] = {}
        self._unhealthy: dict[str, float] = {}  # instance id -> until

    def order(self, service: str, candidates: Iterable[Candidate[T]], now: float) -> list[T]:
        """The candidates' items in the order to try them; each call with remote ones takes a turn."""
        local: list[T] = []
        remote: list[T] = []
        unhealthy: list[T] = []
        for candidate in candidates:
            if self._unhealthy.get(candidate.id, 0.0) > now:
                unhealthy.append(candidate.item)
            elif candidate.local:
                local.append(candidate.item)
            else:
                remote.append(candidate.item)
        if remote:
            turn = self._turns.get(service, 0)
            self._turns[service] = turn + 1
            start = turn % len(remote)
            remote = remote[start:] + remote[:start]
        return local + remote + unhealthy

    def unreachable(self, instance_id: str, now: float) -> None:
        """The instance could not be reached: try it last until `UNHEALTHY_S` from now."""
        # Forget the marks that lapsed, so the table holds only instances that failed lately.
        self._unhealthy = {i: until for i, until in self._unhealthy.items() if until > now}
        self._unhealthy[instance_id] = now + UNHEALTHY_S

    def forget(self, instance_id: str) -> None:
        """The instance is gone: drop its mark."""
        self._unhealthy.pop(instance_id, None)
