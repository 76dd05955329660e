"""Fixed times and the chain builder type shared by the identity tests (never the wall clock)."""

from collections.abc import Callable

from micro.identity import Chain, KeyKind, SigningKey

NOW = 1_800_000_000
DAY = 86_400
REDEEMER = SigningKey.from_seed(KeyKind.NODE, b"\x05" * 32).public
"""The node the tests' invites name as their redeemer."""

ChainBuilder = Callable[[int], tuple[Chain, list[SigningKey]]]
