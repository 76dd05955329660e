"""Bounded, canonical-only CBOR decoding shared by the decoders of this package.

Input over `MAX_SIZE` bytes is refused before parsing; the parser refuses nesting deeper than `MAX_DEPTH`,
indefinite lengths, duplicate or non-string map keys and every tag. The decoded value is then encoded again
canonically and must reproduce the input byte for byte, so each value has exactly one accepted encoding
(no trailing bytes, no alternative lengths or key orders that would let a signed blob change its bytes).
"""

from collections.abc import Callable
from typing import Any

import cbor2

from .errors import Malformed

__all__ = ["MAX_DEPTH", "MAX_SIZE", "dumps", "loads"]

MAX_SIZE = 4096
MAX_DEPTH = 4


def _reject_tag(*_args: object) -> Any:
    raise cbor2.CBORDecodeError("tags are not allowed")


class _RejectAllTags(dict[int, Callable[..., Any]]):
    """Maps every semantic tag to a rejection, so cbor2 builds no datetimes, regexes, decimals..."""

    def __contains__(self, _tag: object) -> bool:
        return True

    def __getitem__(self, _tag: int) -> Callable[..., Any]:
        return _reject_tag

    def get(self, _tag: int, _default: object = None) -> Callable[..., Any]:  # type: ignore[override]
        return _reject_tag


_REJECT_ALL_TAGS = _RejectAllTags()


def dumps(value: object) -> bytes:
    """Canonical CBOR of `value`."""
    return cbor2.dumps(value, canonical=True)


def loads(data: object, what: str) -> Any:
    """Decode `data` (named `what` in error messages) or raise `Malformed`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise Malformed(f"{what} must be bytes, not {type(data).__name__}")
    raw = bytes(data)
    if len(raw) > MAX_SIZE:
        raise Malformed(f"{what} is {len(raw)} bytes; the limit is {MAX_SIZE}")
    try:
        value = cbor2.loads(
            raw,
            max_depth=MAX_DEPTH,
            allow_indefinite=False,
            allow_duplicate_keys=False,
            strict_hashable_types=True,
            tag_hook=_reject_tag,
            semantic_decoders=_REJECT_ALL_TAGS,
        )
        canonical = dumps(value)
    # cbor2 reports most faults as CBORError, but a few values surface as the builtin errors.
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise Malformed(f"{what} is not valid CBOR ({reason})") from None
    if canonical != raw:
        raise Malformed(f"{what} is not in canonical form (altered or corrupt)")
    return value
