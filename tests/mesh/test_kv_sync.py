"""Hash-tree anti-entropy: the walk finds exactly the keys that differ and ships little else."""

from __future__ import annotations

from micro.mesh.codec import encode_one
from micro.mesh.kvmap import KvMap, key_id
from micro.mesh.kvsync import answer_digest, answer_hashes, offer, split_ids
from micro.mesh.messages import KvDigest, KvEntry, KvHashes, KvWant, Message

WRITER = b"w" * 32


def entry(key: str, value: bytes, physical_ms: int = 1) -> KvEntry:
    return KvEntry("default", "t", key, value, 0, physical_ms, 0, WRITER, b"s" * 64)


def replicas(n: int) -> tuple[KvMap, KvMap]:
    a, b = KvMap(), KvMap()
    for i in range(n):
        e = entry(f"key-{i:07d}", b"v")
        kid = key_id(e.db, e.table, e.key)
        a.put(kid, e)
        b.put(kid, e)
    return a, b


def walk(a: KvMap, b: KvMap) -> int:
    """Run one anti-entropy exchange started by `a`; apply newer registers; return the bytes sent."""
    pending: list[tuple[KvMap, KvMap, Message]] = [(a, b, offer(a, 0))]
    sent = 0
    while pending:
        src, dst, message = pending.pop()
        sent += len(encode_one(message))
        replies: list[Message]
        if isinstance(message, KvHashes):
            replies = answer_hashes(dst, message, 0, 0) or []
        elif isinstance(message, KvDigest):
            answer = answer_digest(dst, message)
            assert answer is not None
            ids, _, want = answer
            replies = [dst.get(kid) for kid in ids] + ([want] if want else [])
        elif isinstance(message, KvWant):
            replies = [dst.get(kid) for kid in split_ids(message.key_ids) or []]
        else:
            kid = key_id(message.db, message.table, message.key)
            if dst.newer(kid, message):
                dst.put(kid, message)
            replies = []
        pending.extend((dst, src, r) for r in replies)
    return sent


def test_equal_replicas_exchange_only_their_roots() -> None:
    a, b = replicas(1000)
    assert walk(a, b) < 64


def test_one_differing_key_in_a_hundred_thousand_costs_a_few_kilobytes() -> None:
    a, b = replicas(100_000)
    newer = entry("key-0012345", b"changed", physical_ms=2)
    b.put(key_id("default", "t", newer.key), newer)
    sent = walk(a, b)
    assert a.root == b.root
    assert a.get(key_id("default", "t", newer.key)) == newer
    assert sent < 6 * 1024


def test_the_walk_repairs_differences_in_both_directions() -> None:
    a, b = replicas(500)
    only_a, only_b = entry("only-a", b"1"), entry("only-b", b"2")
    a.put(key_id("default", "t", "only-a"), only_a)
    b.put(key_id("default", "t", "only-b"), only_b)
    walk(a, b)
    assert a.root == b.root and len(a) == len(b) == 502


def test_a_register_a_digest_lacks_is_discarded_below_its_senders_watermark_and_sent_above() -> None:
    held = KvMap()
    collected_there, written_since = entry("old", b"1", physical_ms=10), entry("new", b"2", physical_ms=30)
    for e in (collected_there, written_since):
        held.put(key_id(e.db, e.table, e.key), e)
    old_id, new_id = key_id("default", "t", "old"), key_id("default", "t", "new")

    def answer(kid: bytes) -> tuple[list[bytes], list[bytes]]:
        result = answer_digest(held, KvDigest((kid[0] << 8) | kid[1], b"", watermark=20))
        assert result is not None
        return result[0], result[1]

    assert answer(old_id) == ([], [old_id])
    assert answer(new_id) == ([new_id], [])
