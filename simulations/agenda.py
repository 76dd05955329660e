"""The engine's agenda: everything pending, handed out earliest first, kept as a calendar of time slots.

One binary heap over all pending entries costs some thirty tuple comparisons per pop at 10,000 nodes
(tens of thousands of entries pending). Here an entry is appended to the list of its time slot instead, and
the slot being run is sorted once when the run reaches it, then read in order; an entry pushed for that
slot or an earlier time is inserted into the unread rest in order. So entries come out exactly as from one
heap — by time, then by their sequence number (the second item of every entry) — for a few comparisons
each. The time of the entry being run is the simulation's `VirtualClock`.
"""

from __future__ import annotations

from bisect import insort
from heapq import heappop, heappush
from typing import Any

__all__ = ["Agenda", "Entry", "VirtualClock"]

Entry = tuple[float, int, int, int, Any]
"""(time, sequence number, kind, node, payload): the engine's heap entry."""


class VirtualClock:
    """The simulation's virtual time: that of the entry being run. Shared by the engine, which moves it,
    and the verifier, which dates its checks by it (so neither needs the other)."""

    __slots__ = ("epoch", "now")

    def __init__(self, epoch: float) -> None:
        self.epoch = epoch
        """Wall-clock seconds at virtual time 0."""
        self.now = 0.0

    def wall(self) -> float:
        """Wall-clock seconds now, as a node without clock skew reads them."""
        return self.epoch + self.now


class Agenda:
    """Pending entries in (time, sequence) order, bucketed into slots `width` seconds wide."""

    def __init__(self, width: float) -> None:
        self._scale = 1.0 / width
        self._slot = -1
        """Index of the slot whose entries `_current` holds (and of every earlier slot)."""
        self._current: list[Entry] = []
        """That slot's entries, sorted; those before `_next` were handed out already."""
        self._next = 0
        self._later: dict[int, list[Entry]] = {}
        self._order: list[int] = []
        """The keys of `_later` as a heap, earliest slot first."""

    def __len__(self) -> int:
        return len(self._current) - self._next + sum(len(bucket) for bucket in self._later.values())

    def push(self, entry: Entry) -> None:
        """Add `entry`."""
        slot = int(entry[0] * self._scale)
        if slot <= self._slot:
            insort(self._current, entry, self._next)
            return
        bucket = self._later.get(slot)
        if bucket is None:
            self._later[slot] = [entry]
            heappush(self._order, slot)
        else:
            bucket.append(entry)

    def pop_until(self, end: float) -> Entry | None:
        """Remove and return the earliest entry if its time is at most `end`, else None."""
        current = self._current
        if self._next == len(current):
            if not self._order:
                return None
            slot = heappop(self._order)
            current = self._later.pop(slot)
            current.sort()
            self._current = current
            self._next = 0
            self._slot = slot
        entry = current[self._next]
        if entry[0] > end:
            return None
        self._next += 1
        return entry
