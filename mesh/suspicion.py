"""Lifeguard dynamic suspicion.

When a member is suspected its suspicion timeout starts at `maximum` and shrinks toward `minimum` as
independent confirmations (suspicions of the same life by other accusers) arrive: with `k` expected
confirmations and `c` received, the timeout is max - log(c + 1) / log(k + 1) * (max - min), floored to
whole milliseconds and never below min (memberlist's `remainingSuspicionTime`). A node that is really
dead collects confirmations quickly and is declared dead sooner; a node suspected by one flaky prober
keeps the long timeout and has time to refute. With k < 1 there is nothing to wait for and the timeout
is the minimum.
"""

from __future__ import annotations

import math

__all__ = ["Suspicion", "remaining_suspicion_time", "suspicion_bounds"]


def remaining_suspicion_time(
    confirmations: int, k: int, elapsed: float, minimum: float, maximum: float
) -> float:
    """Seconds left before a suspicion with `confirmations` of `k` expected ones expires."""
    if k < 1:
        return minimum - elapsed
    fraction = math.log(confirmations + 1.0) / math.log(k + 1.0)
    raw = maximum - fraction * (maximum - minimum)
    timeout = max(math.floor(1000.0 * raw) / 1000.0, minimum)
    return timeout - elapsed


def suspicion_bounds(
    suspicion_mult: float, max_timeout_mult: float, members: int, probe_interval: float
) -> tuple[float, float]:
    """(minimum, maximum) suspicion timeout for a mesh of `members` live nodes."""
    minimum = suspicion_mult * max(1.0, math.log10(max(members, 1))) * probe_interval
    return minimum, max_timeout_mult * minimum


class Suspicion:
    """One running suspicion: its start, bounds, and the accusers heard so far."""

    __slots__ = ("_accusers", "k", "maximum", "minimum", "start")

    def __init__(self, accuser: bytes, start: float, k: int, minimum: float, maximum: float) -> None:
        self.start = start
        self.k = k
        self.minimum = minimum
        self.maximum = maximum
        self._accusers = {accuser}

    @property
    def confirmations(self) -> int:
        """Independent accusers after the first."""
        return len(self._accusers) - 1

    def confirm(self, accuser: bytes) -> bool:
        """Record another accuser; True if it is new (and so shortened the timeout)."""
        if accuser in self._accusers or self.confirmations >= self.k:
            return False
        self._accusers.add(accuser)
        return True

    def deadline(self) -> float:
        """When the suspected member is to be declared dead."""
        return self.start + remaining_suspicion_time(
            self.confirmations, self.k, 0.0, self.minimum, self.maximum
        )
