"""Hostile datagrams are counted and dropped, and the node keeps running.

The test plays an attacker on 127.0.0.1 who can send anything, and (for the replay and forged-claim
cases) an insider who holds the mesh keyring, read from the node's own data dir.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest
from micro.identity import Certificate, Chain, KeyKind, Keyring, PublicKey, SigningKey
from micro.mesh import Alive, MeshConfig, Ping, Wire
from micro.mesh.trust import alive_payload
from micro.mesh.wire import VERSION
from micro.node.api.datadir import DataDir
from node_harness import PATIENCE, Cluster, NodeProcess, micro, wait_until


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


def _counters(node: NodeProcess) -> dict[str, int]:
    result = micro("node", "status", "--json", data_dir=node.data_dir)
    assert result.returncode == 0, result.stderr
    counters: dict[str, int] = json.loads(result.stdout)["counters"]
    return counters


def _wait_counter(node: NodeProcess, name: str, at_least: int) -> None:
    wait_until(lambda: _counters(node)[name] >= at_least, PATIENCE, f"{name} >= {at_least}", interval=0.2)


def _keyring(node: NodeProcess) -> Keyring:
    mesh = DataDir(node.data_dir).load_mesh()
    assert mesh is not None
    return Keyring.from_bytes(mesh.keyring)


def _node_id(node: NodeProcess) -> bytes:
    return PublicKey.from_id(node.status()["id"]).raw


def _alive(subject: SigningKey, chain: bytes, signer: SigningKey) -> Alive:
    address, generation, incarnation = "127.0.0.1:9", 7, 0
    payload = alive_payload(subject.public.raw, address, generation, incarnation, chain)
    return Alive(subject.public.raw, address, generation, incarnation, chain, signer.sign(payload))


def test_malformed_oversized_and_foreign_datagrams_are_counted(cluster: Cluster, udp: socket.socket) -> None:
    (node,) = cluster.add(1)
    target = ("127.0.0.1", node.port)
    keyring = _keyring(node)

    udp.sendto(bytes([VERSION]) + keyring.encrypt(b"\xff not a frame header"), target)
    _wait_counter(node, "wire.dropped_malformed", 1)
    udp.sendto(bytes([VERSION]) + b"x" * (MeshConfig.local().max_datagram + 100), target)
    _wait_counter(node, "wire.dropped_oversized", 1)
    stranger = Wire(Keyring.generate(), b"\x01" * 32, 1, MeshConfig.local())
    udp.sendto(stranger.seal([Ping(1, _node_id(node))]), target)
    _wait_counter(node, "wire.dropped_unauthenticated", 1)
    udp.sendto(b"\x63garbage", target)
    _wait_counter(node, "wire.dropped_version", 1)

    assert node.alive()
    assert node.status()["members"]["alive"] == 1


def test_replayed_datagram_is_counted(cluster: Cluster, udp: socket.socket) -> None:
    (node,) = cluster.add(1)
    insider = Wire(_keyring(node), b"\x02" * 32, 1, MeshConfig.local())
    frame = insider.seal([Ping(1, _node_id(node))])

    udp.sendto(frame, ("127.0.0.1", node.port))
    _wait_counter(node, "wire.opened", 1)
    udp.sendto(frame, ("127.0.0.1", node.port))
    _wait_counter(node, "wire.dropped_replayed", 1)

    assert node.alive()


def test_forged_and_unadmitted_alive_claims_are_counted(cluster: Cluster, udp: socket.socket) -> None:
    (node,) = cluster.add(1)
    root = node.root_key()
    subject = SigningKey.generate(KeyKind.NODE)
    now = int(time.time())
    chain = Chain((Certificate.issue(root, subject.public, root.public, ("node",), now, 3600),)).encode()
    insider = Wire(_keyring(node), subject.public.raw, 7, MeshConfig.local())

    # A valid chain, but the claim is signed by another key: a relay forging someone's state.
    forged = _alive(subject, chain, signer=SigningKey.generate(KeyKind.NODE))
    udp.sendto(insider.seal([forged]), ("127.0.0.1", node.port))
    _wait_counter(node, "core.dropped_bad_signature", 1)

    # Correctly signed, but the chain leads to another mesh's root.
    other_root = SigningKey.generate(KeyKind.MESH)
    foreign = Chain((Certificate.issue(other_root, subject.public, other_root.public, ("node",), now, 3600),))
    udp.sendto(insider.seal([_alive(subject, foreign.encode(), signer=subject)]), ("127.0.0.1", node.port))
    _wait_counter(node, "core.dropped_unadmitted", 1)

    assert node.alive()
    assert set(node.members()) == {node.address}
