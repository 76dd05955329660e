"""The rumour retransmit queue.

Every rumour has a subject: the node id for membership claims, (node id, key) for owned entries. Queuing
a rumour replaces any older one about the same subject, so a refuted suspicion or an overwritten key is
never sent again. Each rumour is sent `limit(n) = ceil(retransmit_mult * ceil(log10(n + 1)))` times (n = live
members) and then dropped. `take(budget, n)` fills one datagram: rumours are considered fewest-transmitted
first (buckets by transmit count, oldest first within a bucket), each one that still fits the byte budget
is taken and its count incremented. The work is proportional to the rumours looked at, not the members.

Push gossip alone leaves, with probability about e^-limit, a node that no copy reached. `RecentRumours`
closes that tail cheaply: a node remembers what it learned in the last `rumour_memory` seconds, every
probe ping carries the 4-byte tags of those rumours, and the probed node piggybacks on its ack the recent
rumours whose tags the ping lacked; if the ping named rumours the probed node lacks, its ack carries its
own tags and the prober sends those back. Every node probes and is probed about once per probe interval,
so a missed rumour is repaired within about half an interval, for a few bytes per ping.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable

from .codec import MAX_TAGS, TAG_SIZE, message_size, rumour_tag
from .messages import Message

__all__ = ["BroadcastQueue", "RecentRumours", "retransmit_limit"]

_SMALLEST = 40  # no rumour encodes in fewer bytes (a Suspect is ~80)


def retransmit_limit(retransmit_mult: float, members: int) -> int:
    """How many times each rumour is sent in a mesh of `members` live nodes (rounded up)."""
    return math.ceil(retransmit_mult * max(1, math.ceil(math.log10(members + 1))))


class _Rumour:
    __slots__ = ("message", "size", "transmits")

    def __init__(self, message: Message, size: int) -> None:
        self.message = message
        self.size = size
        self.transmits = 0


class BroadcastQueue:
    """Rumours waiting to be piggybacked or gossiped."""

    __slots__ = ("_buckets", "_by_subject", "_floor", "_largest", "_limit", "_mult", "bytes")

    def __init__(self, retransmit_mult: float, floor: int = 0) -> None:
        self._mult = retransmit_mult
        self._floor = floor  # at least this many sends (at most one per other member) per rumour
        self._limit = (0, retransmit_limit(retransmit_mult, 0))  # (members, limit) last computed
        self._by_subject: dict[Hashable, _Rumour] = {}
        self._buckets: dict[int, dict[Hashable, _Rumour]] = {}
        self._largest = 0  # an upper bound of the sizes queued since the queue was last empty
        self.bytes = 0  # encoded size of everything queued

    def __len__(self) -> int:
        return len(self._by_subject)

    def push(self, subject: Hashable, message: Message, size: int) -> None:
        """Queue `message` (`size` bytes encoded), invalidating any queued rumour about the same subject."""
        self._discard(subject)
        rumour = _Rumour(message, size)
        self._largest = max(self._largest, size)
        self.bytes += size
        self._by_subject[subject] = rumour
        self._bucket(0)[subject] = rumour

    def _discard(self, subject: Hashable) -> None:
        old = self._by_subject.pop(subject, None)
        if old is not None:
            self.bytes -= old.size
            bucket = self._buckets[old.transmits]
            del bucket[subject]
            if not bucket:
                del self._buckets[old.transmits]

    def take(self, budget: int, members: int, copies: int = 1) -> list[Message]:
        """Rumours fitting `budget` bytes, fewest-transmitted first; counts them as sent `copies` more times
        (the same list sent to several members)."""
        known, limit = self._limit
        if members != known:
            limit = max(retransmit_limit(self._mult, members), min(self._floor, members - 1))
            self._limit = (members, limit)
        if self.bytes <= budget:
            return self._take_all(limit, copies)
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
            rumour.transmits += copies
            if rumour.transmits >= limit:
                del self._by_subject[subject]
                self.bytes -= rumour.size
            else:
                self._bucket(rumour.transmits)[subject] = rumour
        return [rumour.message for _, rumour in taken]

    def _bucket(self, transmits: int) -> dict[Hashable, _Rumour]:
        """The bucket of rumours sent `transmits` times, made when missing (not a new dict per call,
        as `setdefault(transmits, {})` would build)."""
        bucket = self._buckets.get(transmits)
        if bucket is None:
            bucket = self._buckets[transmits] = {}
        return bucket

    def _take_all(self, limit: int, copies: int) -> list[Message]:
        """`take` when every queued rumour fits (the usual case): the same rumours in the same order,
        with each bucket moving up `copies` transmits whole instead of rumour by rumour."""
        messages: list[Message] = []
        buckets: dict[int, dict[Hashable, _Rumour]] = {}
        for transmits, bucket in sorted(self._buckets.items()):
            for rumour in bucket.values():
                rumour.transmits += copies
                messages.append(rumour.message)
            if transmits + copies < limit:
                buckets[transmits + copies] = bucket
                continue
            for subject, rumour in bucket.items():
                del self._by_subject[subject]
                self.bytes -= rumour.size
        self._buckets = buckets
        return messages

    def take_oversized(self, budget: int) -> list[Message]:
        """Remove and return the rumours too large for any datagram (they go over a peer link once)."""
        if not self._by_subject:
            self._largest = 0
        if self._largest <= budget:
            return []
        large = [s for s, r in self._by_subject.items() if r.size > budget]
        messages = [self._by_subject[s].message for s in large]
        for subject in large:
            self._discard(subject)
        return messages


class RecentRumours:
    """The rumours learned in the last `memory` seconds, by tag, for pull repair."""

    __slots__ = ("_by_tag", "_expiry", "_memory", "_tags")

    def __init__(self, memory: float) -> None:
        self._memory = memory
        self._by_tag: dict[bytes, tuple[Message, int]] = {}
        self._expiry: deque[tuple[float, bytes]] = deque()
        self._tags: bytes | None = b""  # what tags() returns, until the remembered set changes

    def add(self, message: Message, now: float) -> int:
        """Remember `message`; returns its encoded size."""
        size = message_size(message)
        tag = rumour_tag(message)
        if tag not in self._by_tag:
            self._by_tag[tag] = (message, size)
            self._expiry.append((now + self._memory, tag))
            self._tags = None
        return size

    def _expire(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            del self._by_tag[expiry.popleft()[1]]
            self._tags = None

    def tags(self, now: float) -> bytes:
        """Tags of the newest remembered rumours (at most `MAX_TAGS`), for a ping."""
        self._expire(now)
        if self._tags is None:
            expiry = self._expiry
            # Indexed from the right end (cheap on a deque), not a copy of everything remembered.
            self._tags = b"".join([expiry[i][1] for i in range(max(0, len(expiry) - MAX_TAGS), len(expiry))])
        return self._tags

    def _names_all(self, tags: bytes, now: float) -> bool:
        """True if `tags` are exactly this node's own: the usual case (about four pings in five in a
        busy simulated mesh), as nodes mostly learn the same rumours in the same order."""
        return tags == self.tags(now) and len(self._by_tag) <= MAX_TAGS

    def lacks_any(self, tags: bytes, now: float) -> bool:
        """True if `tags` names a rumour this node does not remember."""
        if self._names_all(tags, now):
            return False
        known = self._by_tag
        return any(tags[i : i + TAG_SIZE] not in known for i in range(0, len(tags), TAG_SIZE))

    def missing(self, tags: bytes, budget: int, now: float) -> list[Message]:
        """Remembered rumours not named in `tags`, newest first, within `budget` bytes."""
        if self._names_all(tags, now) or not self._by_tag:
            return []
        theirs = {tags[i : i + TAG_SIZE] for i in range(0, len(tags), TAG_SIZE)}
        out: list[Message] = []
        for _, tag in reversed(self._expiry):
            if tag not in theirs:
                message, size = self._by_tag[tag]
                if size <= budget:
                    out.append(message)
                    budget -= size
        return out
