"""The retransmit queue: invalidation by subject, retransmit budget, fewest-transmitted first."""

from __future__ import annotations

import pytest
from micro.mesh import Alive, Message, Owned, Suspect
from micro.mesh.broadcast import BroadcastQueue, RecentRumours, retransmit_limit
from micro.mesh.codec import message_size

A, B, C = b"a" * 32, b"b" * 32, b"c" * 32


def push(q: BroadcastQueue, subject: object, message: Message) -> None:
    q.push(subject, message, message_size(message))


def alive(node: bytes, incarnation: int) -> Alive:
    return Alive(node, "10.0.0.1:1", 1, incarnation, b"", b"s" * 64)


@pytest.mark.parametrize(
    ("mult", "n", "limit"), [(3, 1, 3), (3, 9, 3), (3, 10, 6), (3, 1000, 12), (4, 99, 8)]
)
def test_retransmit_limit_is_mult_times_ceil_log10(mult: int, n: int, limit: int) -> None:
    assert retransmit_limit(mult, n) == limit


def test_newer_rumour_about_the_same_subject_replaces_the_older() -> None:
    q = BroadcastQueue(3)
    push(q, A, alive(A, 1))
    push(q, A, Suspect(A, 1, 1, B))
    push(q, (A, "k"), Owned(A, 1, 1, "k", b"v", b"s" * 64))
    assert len(q) == 2
    assert q.take(10_000, 5) == [Suspect(A, 1, 1, B), Owned(A, 1, 1, "k", b"v", b"s" * 64)]


def test_each_rumour_is_sent_limit_times_then_dropped() -> None:
    q = BroadcastQueue(3)
    push(q, A, alive(A, 1))
    sent = 0
    while q.take(10_000, 5):
        sent += 1
    assert sent == retransmit_limit(3, 5) and len(q) == 0


def test_fewest_transmitted_first_within_the_byte_budget() -> None:
    q = BroadcastQueue(3)
    push(q, A, alive(A, 1))
    assert q.take(10_000, 5) == [alive(A, 1)]
    push(q, B, alive(B, 1))
    push(q, C, alive(C, 1))
    size = message_size(alive(A, 1))
    assert q.take(2 * size, 5) == [alive(B, 1), alive(C, 1)]
    assert q.take(size, 5) == [alive(A, 1)]


def test_rumours_too_large_for_a_datagram_are_handed_out_once() -> None:
    q = BroadcastQueue(3)
    big = Owned(A, 1, 1, "k", b"x" * 5000, b"s" * 64)
    push(q, (A, "k"), big)
    push(q, B, alive(B, 1))
    assert q.take(1300, 5) == [alive(B, 1)]
    assert q.take_oversized(1300) == [big]
    assert q.take_oversized(1300) == []


def test_recent_rumours_are_offered_to_a_peer_whose_tags_lack_them_until_forgotten() -> None:
    recent = RecentRumours(memory=3.0)
    for i, node in enumerate((A, B, C)):
        recent.add(alive(node, 1), now=float(i))
    theirs = RecentRumours(memory=3.0)
    theirs.add(alive(B, 1), now=0.0)
    assert recent.missing(theirs.tags(now=2.0), budget=10_000, now=2.0) == [alive(C, 1), alive(A, 1)]
    assert recent.missing(theirs.tags(now=2.0), budget=message_size(alive(C, 1)), now=2.0) == [alive(C, 1)]
    assert recent.missing(b"", budget=10_000, now=3.5) == [alive(C, 1), alive(B, 1)]
    assert recent.tags(now=10.0) == b""
