"""The sans-IO consumer core (`node/streams/delivery.py`): rendezvous assignment, and deliveries, acks,
redeliveries, dead letters and committed offsets on an explicit clock; and consumer records from other
nodes, which decode or are refused, never raise."""

from __future__ import annotations

from collections import Counter

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st
from micro.node.streams.consumers import decode_record, encode_record
from micro.node.streams.delivery import Delivery, assign


def test_assign_gives_every_partition_to_one_consumer_the_same_way_everywhere() -> None:
    partitions = [f"N{i}" for i in range(40)]
    owners = assign(["b", "c"], partitions)
    assert set(owners) == set(partitions)
    assert set(owners.values()) == {"b", "c"}
    assert assign(["c", "b", "c"], reversed(partitions)) == owners
    assert assign([], partitions) == {}


def test_assign_moves_only_the_share_of_a_consumer_that_comes_or_goes() -> None:
    partitions = [f"N{i}" for i in range(200)]
    before = assign(["a", "b", "c"], partitions)
    after = assign(["a", "b"], partitions)
    moved = [p for p in partitions if before[p] != after[p]]
    assert moved and all(before[p] == "c" for p in moved)
    counts = Counter(assign(["a", "b", "c", "d"], partitions).values())
    assert min(counts.values()) > 20  # roughly even


def _delivery(**options: object) -> Delivery[str]:
    settings: dict[str, object] = {"ack_wait": 10.0, "max_retries": 3, "max_in_flight": 4}
    settings.update(options)
    return Delivery(**settings)  # type: ignore[arg-type]


def test_in_order_acks_advance_the_committed_offset() -> None:
    d = _delivery()
    d.add_partition("A", committed=5)
    assert d.position("A") == 6
    for offset in (6, 7, 8):
        assert d.sent("A", offset, f"e{offset}", now=0.0)
    assert d.room == 1 and d.in_flight == 3
    assert d.commits() == {}
    assert d.ack("A", 7)
    assert d.committed("A") == 5  # 6 still unacked
    assert d.ack("A", 6)
    assert d.commits() == {"A": 7}
    assert d.commits() == {}
    assert d.ack("A", 8)
    assert d.commits() == {"A": 8}
    assert d.room == 4


def test_unknown_and_repeated_acks_are_refused() -> None:
    d = _delivery()
    d.add_partition("A", committed=0)
    d.sent("A", 1, "e1", now=0.0)
    assert d.ack("A", 1)
    assert not d.ack("A", 1)
    assert not d.ack("A", 9)
    assert not d.ack("B", 1)
    assert not d.nack("A", 1, now=0.0)


def test_reads_skip_offsets_already_passed_and_count_gaps_as_done() -> None:
    d = _delivery()
    d.add_partition("A", committed=0)
    assert d.sent("A", 4, "e4", now=0.0)  # 1-3 no longer retained
    assert not d.sent("A", 4, "e4", now=0.0)
    assert not d.sent("A", 2, "e2", now=0.0)
    assert not d.sent("B", 1, "x", now=0.0)
    assert d.committed("A") == 3
    d.ack("A", 4)
    assert d.committed("A") == 4


def test_unacked_events_come_due_after_ack_wait_with_the_next_attempt() -> None:
    d = _delivery()
    d.add_partition("A", committed=0)
    d.sent("A", 1, "e1", now=0.0)
    d.sent("A", 2, "e2", now=1.0)
    assert d.timer() == 10.0
    assert d.due(9.9) == ([], [])
    again, dead = d.due(10.0)
    assert [(x.offset, x.event, x.attempt) for x in again] == [(1, "e1", 2)] and dead == []
    assert d.timer() == 11.0
    d.ack("A", 2)
    assert d.timer() == 20.0


def test_nack_redelivers_at_once_then_dead_letters_after_max_retries() -> None:
    d = _delivery(max_retries=3)
    d.add_partition("A", committed=0)
    d.sent("A", 1, "e1", now=0.0)
    d.sent("A", 2, "e2", now=0.0)
    attempts = []
    for step in range(2):
        assert d.nack("A", 1, now=float(step))
        assert d.timer() == float(step)
        again, dead = d.due(float(step))
        attempts += [x.attempt for x in again]
        assert dead == []
    assert attempts == [2, 3]
    assert d.nack("A", 1, now=5.0)
    again, dead = d.due(5.0)
    assert again == [] and [(x.origin, x.offset, x.event, x.attempt) for x in dead] == [("A", 1, "e1", 3)]
    assert d.timer() == 10.0  # e2's; the dead one is never due again
    assert not d.nack("A", 1, now=6.0)
    assert d.in_flight == 2 and d.commits() == {}  # in flight until it is in the dead-letter topic
    assert d.ack("A", 1)
    assert d.commits() == {"A": 1}


def test_timeouts_alone_also_end_in_dead_letters() -> None:
    d = _delivery(max_retries=2, ack_wait=1.0)
    d.add_partition("A", committed=0)
    d.sent("A", 1, "e1", now=0.0)
    assert [x.attempt for x in d.due(1.0)[0]] == [2]
    again, dead = d.due(2.0)
    assert again == [] and [x.offset for x in dead] == [1]
    assert d.timer() is None
    assert d.due(100.0) == ([], [])


def test_a_partition_taken_over_counts_on_from_the_deliveries_already_made() -> None:
    d = _delivery(max_retries=3, ack_wait=10.0)
    d.add_partition("A", committed=0)
    assert d.sent("A", 1, "e1", now=0.0, delivered=1)  # goes out as attempt 2
    assert not d.sent("A", 2, "e2", now=0.0, delivered=3)  # used up: straight to the dead letters
    again, dead = d.due(0.0)
    assert again == [] and [(x.offset, x.attempt) for x in dead] == [(2, 3)]
    assert d.nack("A", 1, now=1.0)
    again, dead = d.due(1.0)
    assert [(x.offset, x.attempt) for x in again] == [(1, 3)] and dead == []
    assert d.nack("A", 1, now=2.0)
    assert [(x.offset, x.attempt) for x in d.due(2.0)[1]] == [(1, 3)]


def test_a_dropped_partition_forgets_its_events_and_refuses_their_acks() -> None:
    d = _delivery()
    d.add_partition("A", committed=0)
    d.add_partition("B", committed=10)
    d.sent("A", 1, "a1", now=0.0)
    d.sent("B", 11, "b11", now=0.0)
    d.drop_partition("A")
    assert d.partitions == {"B"}
    assert d.in_flight == 1
    assert not d.ack("A", 1)
    assert [x.origin for x in d.due(100.0)[0]] == ["B"]
    d.add_partition("A", committed=0)  # taken back later: read again from the committed offset
    assert d.position("A") == 1


def test_auto_ack_keeps_nothing_in_flight() -> None:
    d = _delivery(auto_ack=True)
    d.add_partition("A", committed=0)
    for offset in range(1, 10):
        assert d.sent("A", offset, "e", now=0.0)
    assert d.in_flight == 0 and d.room == 4
    assert d.timer() is None
    assert d.commits() == {"A": 9}


def test_room_also_ends_at_max_bytes_of_unacked_events() -> None:
    d = _delivery(max_in_flight=100, max_bytes=1000)
    d.add_partition("A", committed=0)
    assert d.sent("A", 1, "big", now=0.0, size=600)
    assert d.room == 99
    assert d.sent("A", 2, "big", now=0.0, size=600)  # the read that crossed the limit is sent whole
    assert d.room == 0
    d.ack("A", 1)
    assert d.room == 99
    d.drop_partition("A")
    assert d.room == 100


def test_a_consumer_record_round_trips() -> None:
    assert decode_record(encode_record("orders.eu", "billing", "ab12@Nnode")) == ("orders.eu", "billing", "ab12@Nnode")
    assert decode_record(encode_record("orders", "", "x")) == ("orders", "", "x")


_cbor_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64) | _cbor_values.map(cbor2.dumps)
       | st.tuples(st.text(max_size=12), st.text(max_size=12), st.text(max_size=12)).map(
           lambda fields: cbor2.dumps(list(fields))))
def test_any_consumer_record_decodes_or_is_refused_never_raised(value: bytes) -> None:
    record = decode_record(value)
    assert record is None or (len(record) == 3 and all(isinstance(field, str) for field in record))
