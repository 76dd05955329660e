"""Fixed times and the chain builder type shared by the identity tests (never the wall clock)."""

from collections.abc import Callable

from micro.identity import Chain, SigningKey

NOW = 1_800_000_000
DAY = 86_400

ChainBuilder = Callable[[int], tuple[Chain, list[SigningKey]]]
