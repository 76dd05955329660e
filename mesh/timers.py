"""Named and keyed deadlines with a true earliest one.

The core has a handful of periodic deadlines (probe, probe timeout, gossip, push-pull, reconnect, the
key-value rounds, the next reap): these are *named*, numbered from 0, and kept in a fixed array, because
they change after nearly every message (an ack cancels its probe timeout, a rumour starts a gossip round)
and an array slot costs no hashing, no heap entry and no stale entry to skip later. The many *keyed*
deadlines (one per running suspicion, per relayed ping) sit in a heap with lazy deletion: setting or
cancelling a key only records its current deadline and when it was set, and heap entries set at another
time are discarded when they surface. Of equal deadlines the one set first comes
first, named or keyed.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Hashable

__all__ = ["KEYED", "NOTHING_DUE", "Deadlines"]

NOTHING_DUE = -1
"""`pop_due`: nothing is due."""
KEYED = -2
"""`pop_due`: a keyed deadline is due; `pop_keyed` removes and returns its key."""

_UNSET = math.inf
_STALE = -math.inf
"""`Deadlines._earliest` when it must be computed again (no deadline is ever -inf)."""
_NO_ENTRY = (_UNSET, 0)


class Deadlines:
    """Named deadlines (slots 0 .. `named` - 1) and keyed ones."""

    __slots__ = ("_at", "_due", "_earliest", "_heap", "_keyed", "_order", "_stamp", "_top_checked")

    def __init__(self, named: int) -> None:
        self._at: list[float] = [_UNSET] * named
        self._stamp: list[int] = [0] * named
        """When each named deadline was set (of `_order`): equal deadlines come out in that order."""
        self._keyed: dict[Hashable, tuple[float, int]] = {}
        """Each keyed deadline with the order it was set in (that of its one heap entry not stale)."""
        self._heap: list[tuple[float, int, Hashable]] = []
        self._top_checked = True
        """The heap's top entry is not stale (no keyed deadline changed since that was checked)."""
        self._order = 0
        self._earliest = _STALE
        """The earliest deadline (inf: none) as last computed, while nothing changed since; `_STALE` once
        something did (the driver asks after every message, and most messages change no deadline)."""
        self._due = NOTHING_DUE
        """Which deadline `_earliest` is: a named slot or KEYED."""

    def set(self, slot: int, deadline: float) -> None:
        """(Re)schedule a named deadline."""
        if self._at[slot] == deadline:
            return
        self._at[slot] = deadline
        self._order += 1
        self._stamp[slot] = self._order
        # The earliest stays known unless this was it and moved later (an equal one set earlier wins a tie).
        if self._due == slot or self._earliest == _STALE:
            self._earliest = deadline if self._due == slot and deadline < self._earliest else _STALE
        elif deadline < self._earliest:
            self._earliest = deadline
            self._due = slot

    def cancel(self, slot: int) -> None:
        if self._at[slot] != _UNSET:
            self._at[slot] = _UNSET
            if self._due == slot:
                self._earliest = _STALE

    def get(self, slot: int) -> float | None:
        deadline = self._at[slot]
        return None if deadline == _UNSET else deadline

    def set_keyed(self, key: Hashable, deadline: float) -> None:
        """(Re)schedule a keyed deadline."""
        current = self._keyed.get(key)
        if current is not None and current[0] == deadline:
            return
        self._order += 1
        self._keyed[key] = (deadline, self._order)
        heapq.heappush(self._heap, (deadline, self._order, key))
        self._top_checked = False
        if self._due == KEYED or deadline < self._earliest:
            self._earliest = _STALE

    def cancel_keyed(self, key: Hashable) -> None:
        if self._keyed.pop(key, None) is not None:
            self._top_checked = False
            if self._due == KEYED:
                self._earliest = _STALE

    def earliest(self) -> float | None:
        """The earliest pending deadline, or None."""
        if self._earliest == _STALE:
            self._find()
        return None if self._earliest == _UNSET else self._earliest

    def pop_due(self, now: float) -> int:
        """Remove the earliest deadline if it is at most `now` and say which: its slot when named,
        KEYED when keyed (then `pop_keyed` removes it and gives its key); NOTHING_DUE otherwise."""
        if self._earliest == _STALE:
            self._find()
        if self._earliest > now:
            return NOTHING_DUE
        due = self._due
        if due != KEYED:
            self._at[due] = _UNSET
            self._earliest = _STALE
        return due

    def pop_keyed(self) -> Hashable:
        """Remove the due keyed deadline `pop_due` answered KEYED for, and return its key."""
        _, _, key = heapq.heappop(self._heap)
        del self._keyed[key]
        self._top_checked = False
        self._earliest = _STALE
        return key

    def _find(self) -> None:
        best, stamp, due = _UNSET, 0, NOTHING_DUE
        at, stamps = self._at, self._stamp
        for slot in range(len(at)):
            deadline = at[slot]
            if deadline < best or (deadline == best and deadline != _UNSET and stamps[slot] < stamp):
                best, stamp, due = deadline, stamps[slot], slot
        heap, keyed = self._heap, self._keyed
        if not self._top_checked:
            while heap and keyed.get(heap[0][2], _NO_ENTRY)[1] != heap[0][1]:
                heapq.heappop(heap)
            self._top_checked = True
        if heap:
            deadline, order, _ = heap[0]
            if deadline < best or (deadline == best and order < stamp):
                best, due = deadline, KEYED
        self._earliest = best
        self._due = due
