"""The rumour retransmit queue.

Every rumour has a subject: the node id for membership claims, (node id, key) for owned entries. Queuing
a rumour replaces any older one about the same subject, so a refuted suspicion or an overwritten key is
never sent again. Each rumour is sent `limit(n) = retransmit_mult * ceil(log10(n + 1))` times (n = live
members) and then dropped. `take(budget, n)` fills one datagram: rumours are considered fewest-transmitted
first (buckets by transmit count, oldest first within a bucket), each one that still fits the byte budget
is taken and its count incremented. The work is proportional to the rumours looked at, not the members.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

from .codec import message_size
from .messages import Message

__all__ = ["BroadcastQueue", "retransmit_limit"]

_SMALLEST = 40  # no rumour encodes in fewer bytes (a Suspect is ~80)


def retransmit_limit(retransmit_mult: int, members: int) -> int:
    """How many times each rumour is sent in a mesh of `members` live nodes."""
    return retransmit_mult * max(1, math.ceil(math.log10(members + 1)))


class _Rumour:
    __slots__ = ("message", "size", "transmits")

    def __init__(self, message: Message, size: int) -> None:
        self.message = message
        self.size = size
        self.transmits = 0


class BroadcastQueue:
    """Rumours waiting to be piggybacked or gossiped."""

    __slots__ = ("_buckets", "_by_subject", "_mult")

    def __init__(self, retransmit_mult: int) -> None:
        self._mult = retransmit_mult
        self._by_subject: dict[Hashable, _Rumour] = {}
        self._buckets: dict[int, dict[Hashable, _Rumour]] = {}

    def __len__(self) -> int:
        return len(self._by_subject)

    def push(self, subject: Hashable, message: Message) -> None:
        """Queue `message`, invalidating any queued rumour about the same subject."""
        self._discard(subject)
        rumour = _Rumour(message, message_size(message))
        self._by_subject[subject] = rumour
        self._buckets.setdefault(0, {})[subject] = rumour

    def _discard(self, subject: Hashable) -> None:
        old = self._by_subject.pop(subject, None)
        if old is not None:
            bucket = self._buckets[old.transmits]
            del bucket[subject]
            if not bucket:
                del self._buckets[old.transmits]

    def take(self, budget: int, members: int) -> list[Message]:
        """Rumours fitting `budget` bytes, fewest-transmitted first; counts them as sent once more."""
        limit = retransmit_limit(self._mult, members)
        taken: list[tuple[Hashable, _Rumour]] = []
        for transmits in sorted(self._buckets):
            for subject, rumour in self._buckets[transmits].items():
                if rumour.size <= budget:
                    taken.append((subject, rumour))
                    budget -= rumour.size
                    if budget < _SMALLEST:
                        break
            if budget < _SMALLEST:
                break
        for subject, rumour in taken:
            bucket = self._buckets[rumour.transmits]
            del bucket[subject]
            if not bucket:
                del self._buckets[rumour.transmits]
            rumour.transmits += 1
            if rumour.transmits >= limit:
                del self._by_subject[subject]
            else:
                self._buckets.setdefault(rumour.transmits, {})[subject] = rumour
        return [rumour.message for _, rumour in taken]

    def take_oversized(self, budget: int) -> list[Message]:
        """Remove and return the rumours too large for any datagram (they go over a peer link once)."""
        large = [s for s, r in self._by_subject.items() if r.size > budget]
        messages = [self._by_subject[s].message for s in large]
        for subject in large:
            self._discard(subject)
        return messages
