"""Hypothesis strategies and checks for fuzzing the identity decoders.

Inputs come in three kinds: raw bytes, well-formed CBOR of arbitrary shape, and valid encodings with a few
bytes changed, truncated or extended. `reshaped` makes claim sets of the right shape with some fields
replaced by arbitrary values, to reach the field checks that arbitrary CBOR almost never gets past.
"""

import base64
from collections.abc import Callable
from typing import Any

import cbor2
from hypothesis import strategies as st
from micro.identity import IdentityError

cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | st.binary(max_size=40)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=8), inner, max_size=6),
    max_leaves=20,
)

_WORDS = ["A", "N", "M", "user", "service", "grant", "deny", "accounts", "rules", "*", "", "admin", "editor"]
field_values = cbor_values | st.sampled_from(_WORDS) | st.binary(min_size=32, max_size=32)
"""Values a claim field might hold: arbitrary CBOR and near misses of the real ones."""


def _like(value: object) -> st.SearchStrategy[Any]:
    """Values of the type of `value`, so the checks behind the type checks get reached."""
    if isinstance(value, bool) or value is None:
        return st.booleans() | st.none()
    if isinstance(value, int):
        return st.integers(-(2**33), 2**64 - 1) | st.sampled_from([0, value - 1, value + 1])
    if isinstance(value, str):
        return st.text(max_size=10) | st.sampled_from(_WORDS)
    if isinstance(value, bytes):
        return st.binary(min_size=len(value), max_size=len(value)) | st.binary(max_size=40)
    return st.lists(st.sampled_from(_WORDS) | st.text(max_size=8), max_size=5)


def canonical(value: object) -> bytes:
    return cbor2.dumps(value, canonical=True)


@st.composite
def mutated(draw: st.DrawFn, valid: bytes) -> bytes:
    """`valid` with up to four bytes replaced, then maybe truncated or extended."""
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    return bytes(data[:cut] if draw(st.booleans()) else data) + draw(st.binary(max_size=3))


def inputs(*valid: bytes) -> st.SearchStrategy[bytes]:
    """Raw bytes, arbitrary canonical CBOR, or one of the `valid` encodings changed."""
    return (st.binary(max_size=5000) | cbor_values.map(canonical)
            | st.sampled_from(valid).flatmap(mutated))


@st.composite
def reshaped(draw: st.DrawFn, claims: dict[str, Any]) -> dict[str, Any]:
    """`claims` with one to three fields replaced by values of their type or arbitrary ones, sometimes a
    field dropped or added."""
    result = dict(claims)
    for name in draw(st.lists(st.sampled_from(sorted(claims)), min_size=1, max_size=3, unique=True)):
        result[name] = draw(_like(claims[name]) | field_values)
    change = draw(st.sampled_from(["none", "none", "none", "drop", "add"]))
    if change == "drop":
        del result[draw(st.sampled_from(sorted(result)))]
    elif change == "add":
        result[draw(st.text(max_size=8))] = draw(field_values)
    return result


@st.composite
def changed_text(draw: st.DrawFn, valid: str) -> str:
    """`valid` with one to four characters replaced by arbitrary ones."""
    chars = list(valid)
    for _ in range(draw(st.integers(1, 4))):
        chars[draw(st.integers(0, len(chars) - 1))] = draw(st.characters())
    return "".join(chars)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def decodes_canonically(decode: Callable[[Any], Any], encode_name: str, data: Any) -> Any:
    """`decode(data)`, or None if it raised an `IdentityError`; what decodes must encode back to `data`."""
    try:
        value = decode(data)
    except IdentityError:
        return None
    assert getattr(value, encode_name)() == data
    return value
