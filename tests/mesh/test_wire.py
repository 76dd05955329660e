"""The wire: sealed frames open only for key holders, once, in bounds; faults are counted, never raised."""

from __future__ import annotations

import cbor2
from hypothesis import given, settings
from hypothesis import strategies as st
from micro.identity import Keyring
from micro.mesh import Ack, MeshConfig, Ping, Wire
from micro.mesh.codec import decode, encode
from micro.mesh.wire import VERSION

A, B = b"a" * 32, b"b" * 32
RING = Keyring(b"k" * 32)


def pair(generation: int = 1) -> tuple[Wire, Wire]:
    return Wire(RING, A, generation), Wire(RING, B, 1)


def test_sealed_frame_opens_with_sender_and_messages() -> None:
    sender, receiver = pair(generation=7)
    opened = receiver.open(sender.seal([Ping(1, B), Ack(2)]), now=0.0)
    assert opened is not None
    assert (opened.sender_id, opened.generation, opened.messages) == (A, 7, [Ping(1, B), Ack(2)])
    assert receiver.stats.opened == 1


def test_replayed_frame_is_dropped_and_counted() -> None:
    sender, receiver = pair()
    frame = sender.seal([Ack(1)])
    assert receiver.open(frame, 0.0) is not None
    assert receiver.open(frame, 0.0) is None
    assert receiver.stats.dropped_replayed == 1


def test_reordering_within_the_window_is_accepted_but_not_beyond_it() -> None:
    sender, receiver = pair()
    frames = [sender.seal([Ack(i)]) for i in range(100)]
    assert receiver.open(frames[70], 0.0) is not None
    assert receiver.open(frames[10], 0.0) is not None  # 60 behind: inside the 64-wide window
    assert receiver.open(frames[5], 0.0) is None  # 65 behind
    assert receiver.open(frames[99], 0.0) is not None
    assert receiver.open(frames[71], 0.0) is not None
    assert receiver.stats.dropped_replayed == 1


def test_frames_of_an_older_generation_are_dropped_after_a_newer_one() -> None:
    old, receiver = pair(generation=1)
    new = Wire(RING, A, 2)
    stale = old.seal([Ack(1)])
    assert receiver.open(new.seal([Ack(1)]), 0.0) is not None
    assert receiver.open(stale, 0.0) is None
    assert receiver.stats.dropped_replayed == 1


def test_frame_under_an_unknown_key_is_unauthenticated() -> None:
    stranger = Wire(Keyring(b"z" * 32), A, 1)
    _, receiver = pair()
    assert receiver.open(stranger.seal([Ack(1)]), 0.0) is None
    frame = bytearray(pair()[0].seal([Ack(1)]))
    frame[-1] ^= 1
    assert receiver.open(bytes(frame), 0.0) is None
    assert receiver.stats.dropped_unauthenticated == 2


def test_oversized_datagram_and_frame_are_dropped() -> None:
    config = MeshConfig(max_datagram=200, max_reliable=1000)
    sender, receiver = Wire(RING, A, 1, config), Wire(RING, B, 1, config)
    frame = sender.seal([Ack(i) for i in range(80)])
    assert 200 < len(frame) < 1000
    assert receiver.open(frame, 0.0) is None
    assert receiver.open(sender.seal([Ack(i) for i in range(80)], reliable=True), 0.0, reliable=True) is not None
    assert receiver.open(sender.seal([Ack(i) for i in range(400)], reliable=True), 0.0, reliable=True) is None
    assert receiver.stats.dropped_oversized == 2


def test_wrong_version_and_authenticated_garbage_are_counted() -> None:
    _, receiver = pair()
    assert receiver.open(b"", 0.0) is None
    assert receiver.open(bytes([VERSION + 1]) + RING.encrypt(b"x"), 0.0) is None
    assert receiver.stats.dropped_version == 2
    assert receiver.open(bytes([VERSION]) + RING.encrypt(b"\xff garbage"), 0.0) is None
    assert receiver.open(bytes([VERSION]) + RING.encrypt(cbor2.dumps([A, 1, 1, b"\x81\x81"])), 0.0) is None
    assert receiver.stats.dropped_malformed == 2


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=1500))
def test_open_of_arbitrary_bytes_never_raises(data: bytes) -> None:
    _, receiver = pair()
    assert receiver.open(data, 0.0) is None  # no key, no frame


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(st.binary(max_size=64), st.just(A)),
    st.integers(min_value=-5, max_value=2**65),
    st.integers(min_value=-5, max_value=2**65),
    st.one_of(st.binary(max_size=64), st.just(encode([Ack(1)])), st.integers()),
    st.integers(min_value=0, max_value=5),
)
def test_open_of_authenticated_near_miss_frames_never_raises(
    sender: bytes, generation: int, seq: int, body: object, width: int
) -> None:
    _, receiver = pair()
    header = [sender, generation, seq, body, None][:width] if width != 4 else [sender, generation, seq, body]
    opened = receiver.open(bytes([VERSION]) + RING.encrypt(cbor2.dumps(header)), 0.0)
    if opened is not None:  # only a well-formed header and body get through
        assert (opened.sender_id, opened.generation, opened.messages) == (sender, generation, decode(body))


def test_peer_link_frames_overtaken_by_many_datagrams_are_accepted() -> None:
    sender, receiver = pair()
    late = sender.seal([Ack(0)], reliable=True)
    for i in range(200):
        assert receiver.open(sender.seal([Ack(i)]), 0.0) is not None
    later = [sender.seal([Ack(i)], reliable=True) for i in range(500)]
    for frame in reversed(later):
        assert receiver.open(frame, 0.0, reliable=True) is not None
    assert receiver.open(late, 0.0, reliable=True) is not None
    assert receiver.open(late, 0.0, reliable=True) is None


def test_a_frame_is_accepted_only_on_the_channel_it_was_sealed_for() -> None:
    sender, receiver = pair()
    datagram, frame = sender.seal([Ack(1)]), sender.seal([Ack(2)], reliable=True)
    assert receiver.open(datagram, 0.0, reliable=True) is None
    assert receiver.open(frame, 0.0) is None
    assert receiver.stats.dropped_replayed == 2
    assert receiver.open(datagram, 0.0) is not None and receiver.open(frame, 0.0, reliable=True) is not None
