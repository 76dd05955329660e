"""The codec: exact round trips, exact sizes, and a decoder that only ever raises DecodeError."""

from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from micro.mesh import (
    Ack,
    Alive,
    Dead,
    DecodeError,
    DigestEntry,
    IndirectPing,
    KvDigest,
    KvEntry,
    KvHashes,
    KvWant,
    KvWriter,
    Leave,
    MessageType,
    Nack,
    Owned,
    Ping,
    Suspect,
    Sync,
)
from micro.mesh.codec import decode, encode, encoded_size

A, B = b"a" * 32, b"b" * 32
ALL = [
    Ping(1, A),
    IndirectPing(2, A, "10.0.0.1:7946"),
    Ack(3),
    Nack(4),
    Alive(A, "10.0.0.1:7946", 3, 9, b"chain", b"s" * 64),
    Suspect(A, 3, 9, B),
    Dead(A, 3, 9, B),
    Leave(A, 3, 9, b"s" * 64),
    Owned(A, 3, 17, "svc/x", b"v", b"s" * 64),
    Owned(A, 3, 18, "svc/x", None, b"s" * 64),
    Sync(True, b"h" * 16, (DigestEntry(A, 3, 9, 1, 3, 17),)),
    Sync(False, b"h" * 16, None),
    KvEntry("default", "users", "alice", b"\x00\xff", 0, 1_700_000_000_000, 2, A, b"s" * 64),
    KvEntry("default", "users", "alice", None, 5, 1_700_000_000_001, 0, B, b"s" * 64),
    KvWriter(A, b"chain"),
    KvHashes(2, 17, b"h" * 2048, 1_700_000_000_000),
    KvDigest(4097, b"r" * 24),
    KvWant(b"k" * 32),
]


def test_every_message_type_round_trips() -> None:
    assert decode(encode(ALL)) == ALL
    assert len({type(m) for m in ALL}) == len(MessageType)


def test_digest_entries_encode_as_cbor2_encodes_the_whole_sync() -> None:
    sync = Sync(True, b"h" * 16, (DigestEntry(A, 3, 9, 1, 3, 17), DigestEntry(B, 1, 0, 0, 0, 0)) * 20)
    assert encode([sync]) == cbor2.dumps([[10, True, b"h" * 16, [list(e) for e in sync.digest or ()]]])


def test_encoded_size_is_exact() -> None:
    for n in (0, 1, 23, 24, 300):
        messages = (ALL * 30)[:n]
        assert encoded_size(messages) == len(encode(messages))


def test_ping_and_ack_are_small() -> None:
    assert len(encode([Ping(2**31, A)])) < 45
    assert len(encode([Ack(2**31)])) < 10


@pytest.mark.parametrize(
    "value",
    [
        {"not": "a list"},
        [[99, 1]],  # unknown type
        [[MessageType.ACK]],  # missing field
        [[MessageType.ACK, 1, 2]],  # extra field
        [[MessageType.ACK, -1]],  # negative
        [[MessageType.ACK, 2**64]],  # too large
        [[MessageType.ACK, 1.0]],  # float
        [[MessageType.ACK, True]],  # bool is not an int here
        [[MessageType.PING, 1, b"short"]],  # id length
        [[MessageType.INDIRECT_PING, 1, A, "x" * 300]],  # address length
        [[MessageType.SYNC, 1, b"h", None]],  # reply must be a bool
        [[MessageType.SYNC, True, b"h", [[A, 1, 2, 3, 4]]]],  # digest entry width
        [["1", 1]],
        [[]],
        [None],
    ],
)
def test_out_of_schema_input_raises_decode_error(value: object) -> None:
    with pytest.raises(DecodeError):
        decode(cbor2.dumps(value))


def test_deep_nesting_and_oversize_raise_decode_error() -> None:
    with pytest.raises(DecodeError):
        decode(b"\x81" * 100_000 + b"\x00")
    with pytest.raises(DecodeError):
        decode(b"\x80" + b"\x00" * (4 * 1024 * 1024))
    with pytest.raises(DecodeError):
        decode(b"\xff")


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=512))
def test_decode_of_arbitrary_bytes_raises_only_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except DecodeError:
        pass


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.binary(max_size=40),
    st.text(max_size=10),
    st.floats(allow_nan=True),
    st.just([]),
    st.just({}),
    st.sampled_from([A, B, 0, 5]),
)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(ALL), st.integers(min_value=0, max_value=7), _scalars, st.booleans())
def test_decode_of_mutated_messages_raises_only_decode_error(
    message: object, index: int, replacement: object, truncate: bool
) -> None:
    fields = cbor2.loads(encode([message]))[0]  # type: ignore[list-item]
    if truncate:
        fields = fields[:index]
    elif index < len(fields):
        fields[index] = replacement
    else:
        fields.append(replacement)
    try:
        messages = decode(cbor2.dumps([fields]))
    except DecodeError:
        return
    assert decode(encode(messages)) == messages
