"""Anti-entropy for the key-value map: walk two hash trees down to the keys that differ.

The initiator offers its root (`KvHashes` level 0, index `OFFER`). The peer answers an equal root with
its own root (index `EQUAL`, which tells the initiator that it held everything the peer held), and a
different one with its group hashes (level 1). Each side answers a level it receives with the next level
down, only where its own hashes differ: group hashes with the bucket hashes of each differing group
(level 2), bucket hashes with a `KvDigest` of each differing bucket. A digest is answered with the
registers the sender lacks or holds differently, plus a `KvWant` for the ones it has that we lack or hold
differently; a want is answered with those registers. Stale registers that cross are ignored by the
receiver's last-writer-wins rule, so the walk needs no agreement on who is newer. A register that a
digest lacks and that is stamped below its sender's collection watermark is not sent but discarded: the
sender collected it (see `kv.py`).

Two replicas that differ in one key of a million exchange the root, 2 KiB of group hashes, 2 KiB of
bucket hashes, a digest of the ~15 keys in that bucket and the register itself.
"""

from __future__ import annotations

from .kvmap import GROUPS, HASH_SIZE, KEY_ID_SIZE, KvMap
from .messages import KvDigest, KvHashes, KvWant, Message

__all__ = ["EQUAL", "OFFER", "answer_digest", "answer_hashes", "offer", "split_ids"]

OFFER, EQUAL = 0, 1
"""`index` of a level-0 `KvHashes`: the initiator's offer, or the peer's answer that the roots match."""
_RECORD = KEY_ID_SIZE + HASH_SIZE


def _pack(hashes: list[int]) -> bytes:
    return b"".join(h.to_bytes(HASH_SIZE, "big") for h in hashes)


def _unpack(data: bytes, count: int) -> list[int] | None:
    if len(data) != count * HASH_SIZE:
        return None
    return [int.from_bytes(data[i : i + HASH_SIZE], "big") for i in range(0, len(data), HASH_SIZE)]


def _differing(mine: list[int], theirs: list[int]) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(mine, theirs, strict=True)) if a != b]


def offer(kv: KvMap, horizon: int) -> KvHashes:
    """The initiator's first message."""
    return KvHashes(0, OFFER, _pack([kv.root]), horizon)


def answer_hashes(kv: KvMap, message: KvHashes, horizon: int, watermark: int) -> list[Message] | None:
    """The next step after receiving one tree level; None if the message is malformed. `horizon` and
    `watermark` are ours, advertised in what we send."""
    level, index = message.level, message.index
    if level == 0:
        theirs = _unpack(message.hashes, 1)
        if theirs is None or index not in (OFFER, EQUAL):
            return None
        if theirs[0] != kv.root:
            return [KvHashes(1, 0, _pack(kv.group_hashes()), horizon)]
        return [KvHashes(0, EQUAL, message.hashes, horizon)] if index == OFFER else []
    if level == 1:
        groups = _unpack(message.hashes, GROUPS)
        if groups is None:
            return None
        return [
            KvHashes(2, g, _pack(kv.bucket_hashes(g)), horizon)
            for g in _differing(kv.group_hashes(), groups)
        ]
    if level == 2 and index < GROUPS:
        buckets = _unpack(message.hashes, 256)
        if buckets is None:
            return None
        base = index << 8
        return [
            KvDigest(
                base + b, b"".join(kid + h.to_bytes(HASH_SIZE, "big") for kid, h in kv.bucket(base + b)), watermark
            )
            for b in _differing(kv.bucket_hashes(index), buckets)
        ]
    return None


def answer_digest(kv: KvMap, digest: KvDigest) -> tuple[list[bytes], list[bytes], KvWant | None] | None:
    """Key ids to send back, key ids to discard (held here, lacking there and stamped below the sender's
    watermark) and what to ask for; None if the digest is malformed."""
    data = digest.records
    if len(data) % _RECORD:
        return None
    theirs = {
        data[i : i + KEY_ID_SIZE]: int.from_bytes(data[i + KEY_ID_SIZE : i + _RECORD], "big")
        for i in range(0, len(data), _RECORD)
    }
    mine = dict(kv.bucket(digest.bucket))
    send: list[bytes] = []
    discard: list[bytes] = []
    for kid, h in mine.items():
        theirs_h = theirs.get(kid)
        if theirs_h is None and _physical_ms(kv, kid) < digest.watermark:
            discard.append(kid)
        elif theirs_h != h:
            send.append(kid)
    want = [kid for kid, h in theirs.items() if mine.get(kid) != h]
    return send, discard, (KvWant(b"".join(want)) if want else None)


def _physical_ms(kv: KvMap, kid: bytes) -> int:
    entry = kv.get(kid)
    assert entry is not None
    return entry.physical_ms


def split_ids(data: bytes) -> list[bytes] | None:
    """The key ids of a `KvWant`; None if malformed."""
    if len(data) % KEY_ID_SIZE:
        return None
    return [data[i : i + KEY_ID_SIZE] for i in range(0, len(data), KEY_ID_SIZE)]
