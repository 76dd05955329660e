"""Lifeguard local health awareness.

A node that misses acks may be the slow one itself (CPU starved, lossy link). It keeps a score in
[0, max_multiplier - 1]: a failed probe adds one for every nack it expected but did not get (or one when
it asked no relays), and a successful probe subtracts one. Probe interval and probe timeout are multiplied
by score + 1, so an unhealthy node probes more slowly and waits longer before suspecting others, instead
of spreading false suspicions.
"""

from __future__ import annotations

__all__ = ["Awareness"]


class Awareness:
    """The local health multiplier."""

    __slots__ = ("_max", "score")

    def __init__(self, max_multiplier: int) -> None:
        self._max = max(1, max_multiplier)
        self.score = 0

    def apply_delta(self, delta: int) -> None:
        """Move the score by `delta`, kept within [0, max_multiplier - 1]."""
        self.score = min(max(self.score + delta, 0), self._max - 1)

    def scale(self, timeout: float) -> float:
        """`timeout` stretched by the current health multiplier."""
        return timeout * (self.score + 1)
