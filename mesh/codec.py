"""CBOR encoding of message lists, with a bounded, validating decoder.

A frame body is a CBOR array of messages; each message is an array `[type, field, ...]` with the fields
in the order of its dataclass. Encoding trusts the dataclasses. Decoding trusts nothing: the input size is
bounded (`MAX_FRAME`), cbor2 bounds the nesting depth, and every message is checked against a schema
(exact field count, exact Python types, integer ranges, byte and string lengths, list lengths) before a
dataclass is built, so cyclic or exotic CBOR values (tags, floats, maps) never get past it. Any failure,
whatever cbor2 or the schema raised, comes out as `DecodeError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import cbor2

from .errors import DecodeError
from .merkle import MAX_PATH
from .messages import (
    Ack,
    Alive,
    Dead,
    DigestEntry,
    IndirectPing,
    KvDigest,
    KvEntry,
    KvHashes,
    KvWant,
    KvWriter,
    Leave,
    Message,
    MessageType,
    Nack,
    Owned,
    Ping,
    Suspect,
    Sync,
)
from .trust import SIGNATURE_SIZE

__all__ = [
    "MAX_ADDRESS",
    "MAX_CHAIN",
    "MAX_DIGEST",
    "MAX_FRAME",
    "MAX_KEY",
    "MAX_MESSAGES",
    "MAX_TAGS",
    "TAG_SIZE",
    "decode",
    "encode",
    "encode_one",
    "encoded_size",
    "message_size",
    "rumour_tag",
]

MAX_FRAME = 4 * 1024 * 1024
"""Largest body `decode` accepts (the reliable frame limit)."""
MAX_MESSAGES = 65536
"""Most messages in one frame; senders split longer lists."""
MAX_DIGEST = 200_000
"""Most entries in one scuttlebutt digest."""
MAX_ADDRESS = 256
MAX_CHAIN = 16 * 1024
MAX_KEY = 256
MAX_KV_NAME = 64
"""Longest database or table name."""
MAX_KV_KEY = 1024
"""Longest key-value key, in UTF-8 bytes (checked on write; the decoder bounds characters)."""
MAX_KV_RECORDS = 1 << 20
"""Most bytes of key ids or digest records in one KvDigest or KvWant."""
MAX_SIGNATURE = 128
MAX_KV_SIGNATURE = SIGNATURE_SIZE + MAX_PATH
"""A register's signature: alone, or a batch root's with the register's path (see `trust.py`)."""
MAX_HASH = 64
TAG_SIZE = 4
"""Bytes of a rumour tag (see `rumour_tag`)."""
MAX_TAGS = 64
"""Most rumour tags one ping carries."""
ID_SIZE = 32
U64 = (1 << 64) - 1

_Check = Callable[[Any], Any]


def _u64(v: Any) -> int:
    if type(v) is not int or not 0 <= v <= U64:
        raise DecodeError("expected an unsigned 64-bit integer")
    return v


def _node_id(v: Any) -> bytes:
    if type(v) is not bytes or len(v) != ID_SIZE:
        raise DecodeError("expected a 32-byte node id")
    return v


def _bytes(limit: int) -> _Check:
    def check(v: Any) -> bytes:
        if type(v) is not bytes or len(v) > limit:
            raise DecodeError(f"expected at most {limit} bytes")
        return v

    return check


def _text(limit: int) -> _Check:
    def check(v: Any) -> str:
        if type(v) is not str or len(v) > limit:
            raise DecodeError(f"expected a string of at most {limit} characters")
        return v

    return check


def _optional(check: _Check) -> _Check:
    def optional(v: Any) -> Any:
        return None if v is None else check(v)

    return optional


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise DecodeError("expected a boolean")
    return v


def _digest(v: Any) -> tuple[DigestEntry, ...] | None:
    if v is None:
        return None
    if type(v) is not list or len(v) > MAX_DIGEST:
        raise DecodeError("expected a digest list")
    entries = []
    for item in v:
        if type(item) is not list or len(item) != 6:
            raise DecodeError("expected a 6-field digest entry")
        entries.append(DigestEntry(_node_id(item[0]), *(_u64(x) for x in item[1:])))
    return tuple(entries)


_SIG = _bytes(MAX_SIGNATURE)
_ADDRESS = _text(MAX_ADDRESS)

# type -> (class, field names, field checks); the single source of both encoding and decoding.
_SCHEMA: dict[int, tuple[type, tuple[str, ...], tuple[_Check, ...]]] = {
    MessageType.PING: (Ping, ("seq", "target", "recent"), (_u64, _node_id, _bytes(MAX_TAGS * TAG_SIZE))),
    MessageType.INDIRECT_PING: (IndirectPing, ("seq", "target", "address"), (_u64, _node_id, _ADDRESS)),
    MessageType.ACK: (Ack, ("seq", "recent"), (_u64, _optional(_bytes(MAX_TAGS * TAG_SIZE)))),
    MessageType.NACK: (Nack, ("seq",), (_u64,)),
    MessageType.ALIVE: (
        Alive,
        ("node_id", "address", "generation", "incarnation", "chain", "signature"),
        (_node_id, _ADDRESS, _u64, _u64, _bytes(MAX_CHAIN), _SIG),
    ),
    MessageType.SUSPECT: (
        Suspect,
        ("node_id", "generation", "incarnation", "accuser"),
        (_node_id, _u64, _u64, _node_id),
    ),
    MessageType.DEAD: (
        Dead,
        ("node_id", "generation", "incarnation", "accuser"),
        (_node_id, _u64, _u64, _node_id),
    ),
    MessageType.LEAVE: (
        Leave,
        ("node_id", "generation", "incarnation", "signature"),
        (_node_id, _u64, _u64, _SIG),
    ),
    MessageType.OWNED: (
        Owned,
        ("node_id", "generation", "counter", "key", "value", "signature"),
        (_node_id, _u64, _u64, _text(MAX_KEY), _optional(_bytes(MAX_FRAME)), _SIG),
    ),
    MessageType.SYNC: (Sync, ("reply", "view_hash", "digest"), (_bool, _bytes(MAX_HASH), _digest)),
    MessageType.KV_ENTRY: (
        KvEntry,
        ("db", "table", "key", "value", "expire_at", "physical_ms", "logical", "writer", "signature"),
        (_text(MAX_KV_NAME), _text(MAX_KV_NAME), _text(MAX_KV_KEY), _optional(_bytes(MAX_FRAME)),
         _u64, _u64, _u64, _node_id, _bytes(MAX_KV_SIGNATURE)),
    ),
    MessageType.KV_WRITER: (KvWriter, ("node_id", "chain"), (_node_id, _bytes(MAX_CHAIN))),
    MessageType.KV_HASHES: (
        KvHashes,
        ("level", "index", "hashes", "horizon"),
        (_u64, _u64, _bytes(MAX_KV_RECORDS), _u64),
    ),
    MessageType.KV_DIGEST: (
        KvDigest, ("bucket", "records", "watermark"), (_u64, _bytes(MAX_KV_RECORDS), _u64)
    ),
    MessageType.KV_WANT: (KvWant, ("key_ids",), (_bytes(MAX_KV_RECORDS),)),
}
_TYPE_OF: dict[type, int] = {cls: int(t) for t, (cls, _, _) in _SCHEMA.items()}
_FIELDS_OF: dict[type, tuple[str, ...]] = {cls: names for cls, names, _ in _SCHEMA.values()}


def _as_list(message: Message) -> list[Any]:
    cls = type(message)
    return [_TYPE_OF[cls], *(getattr(message, name) for name in _FIELDS_OF[cls])]


def encode(messages: Sequence[Message]) -> bytes:
    """Encode a list of messages as one CBOR array (header, then each message's cached encoding)."""
    return _list_header(len(messages)) + b"".join([encode_one(m) for m in messages])


_ENTRY_CACHE = 1 << 17
_entry_encodings: dict[DigestEntry, bytes] = {}
"""Encodings of digest entries. A digest lists every member and most entries repeat from one digest to
the next (in the simulator, from one core to the next): at 10,000 members, joining cached entries is
about 15 times faster than encoding them. Emptied when it reaches `_ENTRY_CACHE` entries."""


def _encode_digest(digest: tuple[DigestEntry, ...]) -> bytes:
    """A digest as a CBOR array of entry arrays, byte for byte what cbor2 makes of the whole tuple."""
    cache = _entry_encodings
    if len(cache) >= _ENTRY_CACHE:
        cache.clear()
    parts = []
    for entry in digest:
        encoded = cache.get(entry)
        if encoded is None:
            encoded = cache[entry] = cbor2.dumps(list(entry))
        parts.append(encoded)
    return _list_header(len(digest)) + b"".join(parts)


def _encode(message: Message) -> bytes:
    if type(message) is Sync and message.digest is not None:
        head = (MessageType.SYNC.value, message.reply, message.view_hash)
        return _list_header(4) + b"".join([cbor2.dumps(v) for v in head]) + _encode_digest(message.digest)
    return cbor2.dumps(_as_list(message))


def encode_one(message: Message) -> bytes:
    """The encoding of one message as it appears inside a message list (computed once per message)."""
    try:
        return message.encoding
    except AttributeError:
        encoded = _encode(message)
        object.__setattr__(message, "encoding", encoded)  # frozen: the cache slot is set past the guard
        return encoded


def message_size(message: Message) -> int:
    """Bytes `message` adds to an encoded message list."""
    return len(encode_one(message))


def rumour_tag(message: Message) -> bytes:
    """A short tag naming one rumour, a hash of its encoding, so equal rumours have equal tags (computed
    once per message)."""
    try:
        return message.tag
    except AttributeError:
        tag = hashlib.blake2b(encode_one(message), digest_size=TAG_SIZE).digest()
        object.__setattr__(message, "tag", tag)
        return tag


def _list_header(count: int) -> bytes:
    """The CBOR header of a definite-length array of `count` items."""
    if count < 24:
        return bytes((0x80 | count,))
    if count < 256:
        return bytes((0x98, count))
    if count < 65536:
        return b"\x99" + count.to_bytes(2, "big")
    return b"\x9a" + count.to_bytes(4, "big")


def _list_header_size(count: int) -> int:
    return 1 if count < 24 else 2 if count < 256 else 3 if count < 65536 else 5


def encoded_size(messages: Sequence[Message]) -> int:
    """Exactly `len(encode(messages))`, computed from per-message sizes (used to pack datagrams)."""
    size = _list_header_size(len(messages))
    for message in messages:  # a loop, not map(): compiled, encode_one is then a native call
        size += len(encode_one(message))
    return size


def _build(item: Any) -> Message:
    if type(item) is not list or not item:
        raise DecodeError("a message is a non-empty array")
    entry = _SCHEMA.get(item[0]) if type(item[0]) is int else None
    if entry is None:
        raise DecodeError("unknown message type")
    cls, _, checks = entry
    if len(item) != len(checks) + 1:
        raise DecodeError(f"{cls.__name__} needs {len(checks)} fields")
    message: Message = cls(*(check(v) for check, v in zip(checks, item[1:], strict=True)))
    return message


def decode(data: bytes) -> list[Message]:
    """Decode and validate a message list; raises `DecodeError` (and nothing else) on any fault."""
    if type(data) is not bytes or len(data) > MAX_FRAME:
        raise DecodeError("frame too large")
    try:
        items = cbor2.loads(data)
        if type(items) is not list or len(items) > MAX_MESSAGES:
            raise DecodeError("a frame is an array of at most MAX_MESSAGES messages")
        return [_build(item) for item in items]
    except DecodeError:
        raise
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - cbor2 may raise anything on bad input
        raise DecodeError(f"malformed CBOR: {type(exc).__name__}") from None
