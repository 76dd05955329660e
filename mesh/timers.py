"""Named deadlines with a true earliest one.

The core has a handful of periodic deadlines (probe, gossip, push-pull, reconnect) and many keyed ones
(one per running suspicion, per relayed ping, per dead member awaiting reaping). `Deadlines` keeps them in
a heap with lazy deletion: setting or cancelling a key only records its current deadline, and stale heap
entries are discarded when they surface. `earliest()` first pops stale entries, so it returns the real
earliest deadline; every operation is O(log n) amortised.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable

__all__ = ["Deadlines"]

_STALE = -math.inf
"""`Deadlines._earliest` when it must be computed again (no deadline is ever -inf)."""


class Deadlines:
    """A set of keyed deadlines."""

    __slots__ = ("_current", "_earliest", "_heap", "_order")

    def __init__(self) -> None:
        self._current: dict[Hashable, float] = {}
        self._heap: list[tuple[float, int, Hashable]] = []
        self._order = 0
        self._earliest: float | None = None
        """`earliest()` as last computed, while nothing changed since; `_STALE` once something did (the
        driver asks after every message, and most messages change no deadline)."""

    def set(self, key: Hashable, deadline: float) -> None:
        """(Re)schedule `key`."""
        if self._current.get(key) == deadline:
            return
        self._current[key] = deadline
        self._order += 1
        heapq.heappush(self._heap, (deadline, self._order, key))
        self._earliest = _STALE

    def cancel(self, key: Hashable) -> None:
        if self._current.pop(key, None) is not None:
            self._earliest = _STALE

    def get(self, key: Hashable) -> float | None:
        return self._current.get(key)

    def earliest(self) -> float | None:
        """The earliest pending deadline (stale entries on top of the heap are dropped on the way)."""
        if self._earliest != _STALE:
            return self._earliest
        heap, current = self._heap, self._current
        while heap and current.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        self._earliest = heap[0][0] if heap else None
        return self._earliest

    def pop_due(self, now: float) -> Hashable | None:
        """Remove and return one key whose deadline is <= now (earliest first), or None."""
        deadline = self.earliest()
        if deadline is None or deadline > now:
            return None
        _, _, key = heapq.heappop(self._heap)
        del self._current[key]
        self._earliest = _STALE
        return key
