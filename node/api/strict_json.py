"""JSON as RFC 8259 has it, for payloads and bodies that come from anyone.

Python's `json` reads NaN and Infinity, turns 1e999999 into infinity (neither can be written as JSON
again), reads a name twice in an object keeping the last, and raises RecursionError on deep nesting.
`loads` refuses all of these with ValueError, so the gateway, the CLI and the SDK decide alike what is
JSON: the gateway answers 400, the clients show such a payload as bytes.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any, NoReturn

__all__ = ["decode", "loads", "number"]


def loads(text: str) -> Any:
    """`text` as one JSON value; ValueError for NaN or Infinity, a number no float holds, an integer past
    Python's digit limit, a name twice in one object, or nesting deeper than the parser can go."""
    try:
        return _STRICT.decode(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def decode(data: bytes) -> Any:
    """UTF-8 bytes as one JSON value (`loads`); ValueError for anything else (UTF-16 included)."""
    return loads(data.decode("utf-8"))


def _constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def number(text: str) -> float:
    """A JSON number's text as a finite float; ValueError for one out of range (1e999999)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # over sys.get_int_max_str_digits()
        raise ValueError(f"an integer of {len(text)} digits is too long") from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = dict(pairs)
    if len(fields) != len(pairs):
        twice = next(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
        raise ValueError(f"the name {twice!r} appears twice in an object")
    return fields


_STRICT = json.JSONDecoder(object_pairs_hook=_object, parse_float=number, parse_int=_int, parse_constant=_constant)
