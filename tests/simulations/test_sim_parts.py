"""Unit tests of the simulator's parts: simulated credentials, the network model, frame sizes."""

from __future__ import annotations

from micro.mesh.codec import encode, encoded_size
from micro.mesh.messages import Ack, Ping
from micro.mesh.trust import sign_alive
from micro.simulations.agenda import VirtualClock
from micro.simulations.crypto import SIGNATURE_SIZE, SimRegistry
from micro.simulations.engine import PACKET_OVERHEAD, frame_size
from micro.simulations.network import NetworkModel


def test_simulated_signatures_verify_only_for_their_signer_and_data() -> None:
    registry = SimRegistry(1)
    alice, bob = registry.enroll(0), registry.enroll(1)
    verifier = registry.verifier(VirtualClock(0.0))
    signature = alice.sign(b"claim")
    assert len(signature) == SIGNATURE_SIZE
    assert verifier.verify(alice.node_id, b"claim", signature)
    assert not verifier.verify(alice.node_id, b"claim!", signature)
    assert not verifier.verify(bob.node_id, b"claim", signature)
    assert not verifier.verify(alice.node_id, b"claim", bob.sign(b"claim"))


def test_only_enrolled_nodes_with_their_issued_chain_are_admitted() -> None:
    registry = SimRegistry(1)
    alice = registry.enroll(0)
    verifier = registry.verifier(VirtualClock(0.0))
    assert verifier.admit(alice.node_id, alice.chain)
    outsider = SimRegistry(2).enroll(0)
    assert not verifier.admit(outsider.node_id, outsider.chain)
    assert not verifier.admit(alice.node_id, outsider.chain)
    assert not verifier.verify(outsider.node_id, b"x", outsider.sign(b"x"))


def test_latency_stays_near_the_lan_median() -> None:
    network = NetworkModel(2, seed=1)
    draws = sorted(network.latency() for _ in range(10_000))
    assert 0.0008 < draws[5_000] < 0.0012
    assert draws[250] > 0.0004 and draws[9_750] < 0.0025


def test_loss_drops_datagrams_but_only_delays_reliable_packets() -> None:
    network = NetworkModel(2, seed=1, loss=0.3)
    datagrams = [network.datagram_delay(0, 1, 0.0) for _ in range(10_000)]
    assert 2_700 < datagrams.count(None) < 3_300
    reliable = [network.reliable_delay(0, 1, 0.0) for _ in range(1_000)]
    assert None not in reliable
    assert max(d for d in reliable if d is not None) >= network.retransmit_timeout


def test_partitions_cut_only_across_groups_and_only_while_active() -> None:
    network = NetworkModel(4, seed=1)
    network.split_halves(10.0, 20.0)
    assert network.datagram_delay(0, 2, 15.0) is None
    assert network.reliable_delay(0, 2, 15.0) is None
    assert network.datagram_delay(0, 1, 15.0) is not None
    assert network.datagram_delay(0, 2, 25.0) is not None
    assert network.separated_during(0, 3, 0.0, 10.0)
    assert not network.separated_during(0, 3, 20.0, 30.0)


def test_slow_nodes_fire_late_and_drop_some_sends() -> None:
    network = NetworkModel(10, seed=1, slow_fraction=0.2, slow_send_drop=0.5)
    assert len(network.slow) == 2
    slow = min(network.slow)
    fast = min(set(range(10)) - network.slow)
    assert network.timer_lateness(fast) == 0.0
    assert any(network.timer_lateness(slow) > 0 for _ in range(10))
    drops = [network.datagram_delay(slow, fast, 0.0) for _ in range(1_000)].count(None)
    assert 400 < drops < 600


def test_the_same_seed_draws_the_same_network() -> None:
    one = NetworkModel(100, seed=9, slow_fraction=0.1, max_skew=0.5)
    two = NetworkModel(100, seed=9, slow_fraction=0.1, max_skew=0.5)
    assert one.slow == two.slow and one.skew == two.skew
    assert [one.datagram_delay(1, 2, 0.0) for _ in range(100)] == [two.datagram_delay(1, 2, 0.0) for _ in range(100)]


def test_frame_size_matches_the_codec_for_short_and_long_message_lists() -> None:
    registry = SimRegistry(1)
    alice = registry.enroll(0)
    claim = sign_alive(alice, "10.0.0.1:7946", 1, 3)
    for messages in ([Ping(7, alice.node_id)], [claim, Ack(9), claim], [claim] * 30, []):
        expected = encoded_size(messages) + PACKET_OVERHEAD
        assert frame_size(messages) == expected
        assert frame_size(messages) == expected  # and again, from the cached encodings
    assert len(encode([claim, Ack(9)])) + PACKET_OVERHEAD == frame_size([claim, Ack(9)])
