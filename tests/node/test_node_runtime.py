"""The runtime and credentials in one process: two cores over an in-memory transport, on a real loop."""

from __future__ import annotations

import asyncio
import io
import random
import time

from micro.identity import Certificate, Chain, KeyKind, Keyring, SigningKey
from micro.mesh import MeshConfig
from micro.node.credentials import NodeCredentials, NodeVerifier
from micro.node.log import Logger
from micro.node.runtime import Runtime
from node_harness import PATIENCE, until


class MemoryTransport:
    """Delivers to the runtime registered for an address on the next loop iteration; counts by path."""

    def __init__(self, network: dict[str, Runtime], source: str) -> None:
        self.network = network
        self.source = source
        self.datagrams = 0
        self.reliable = 0

    def send_datagram(self, address: str, data: bytes) -> None:
        self.datagrams += 1
        target = self.network.get(address)
        if target is not None:
            asyncio.get_running_loop().call_soon(target.datagram_received, data, self.source)

    def send_reliable(self, address: str, data: bytes) -> None:
        self.reliable += 1
        target = self.network.get(address)
        if target is not None:
            asyncio.get_running_loop().call_soon(target.frame_received, data, self.source)


def _credentials(root: SigningKey, roles: tuple[str, ...] = ("node",)) -> NodeCredentials:
    key = SigningKey.generate(KeyKind.NODE)
    cert = Certificate.issue(root, key.public, root.public, roles, int(time.time()), 3600)
    return NodeCredentials(key, Chain((cert,)).encode())


def _accept_all(entry: object, held: object) -> bool:
    return True


def _none_revoked(node_id: bytes) -> bool:
    return False


def _states(runtime: Runtime) -> dict[str, str]:
    return {m["address"]: m["state"] for m in runtime.members()}


def test_two_runtimes_join_over_the_reliable_path_and_see_a_leave() -> None:
    async def scenario() -> None:
        root = SigningKey.generate(KeyKind.MESH)
        keyring = Keyring.generate()
        network: dict[str, Runtime] = {}
        transports: dict[str, MemoryTransport] = {}
        changes: list[str] = []
        for i, address in enumerate(("mem:1", "mem:2")):
            transports[address] = MemoryTransport(network, address)
            runtime = Runtime(transports[address], Logger(io.StringIO()), lambda a=address: changes.append(a))
            runtime.build(MeshConfig.local(), _credentials(root), NodeVerifier(root.public, _accept_all, _none_revoked), keyring, address,
                          1, random.Random(i))
            network[address] = runtime
        a, b = network["mem:1"], network["mem:2"]

        a.join(["mem:2"])
        await until(lambda: _states(a) == _states(b) == {"mem:1": "alive", "mem:2": "alive"}, PATIENCE,
                    "both runtimes to see both alive")
        assert transports["mem:1"].reliable >= 1
        assert changes

        b.leave()
        await until(lambda: _states(a).get("mem:2") == "left", PATIENCE, "a to see b leave")
        counters = a.counters()
        assert counters["wire.opened"] > 0
        assert counters["core.dropped_bad_signature"] == 0
        a.close()
        b.close()

    asyncio.run(scenario())


def test_verifier_admits_only_chains_to_its_root_for_the_claimed_key() -> None:
    root, other_root = SigningKey.generate(KeyKind.MESH), SigningKey.generate(KeyKind.MESH)
    verifier = NodeVerifier(root.public, _accept_all, _none_revoked)
    mine = _credentials(root)
    foreign = _credentials(other_root)
    stranger = SigningKey.generate(KeyKind.NODE)

    assert verifier.admit(mine.node_id, mine.chain)
    assert verifier.admit(mine.node_id, mine.chain)  # cached answer, same result
    assert not verifier.admit(stranger.public.raw, mine.chain)  # a chain for someone else
    assert not verifier.admit(foreign.node_id, foreign.chain)  # another mesh
    assert not verifier.admit(mine.node_id, b"\xff junk")
    assert verifier.verify(mine.node_id, b"data", mine.sign(b"data"))
    assert not verifier.verify(mine.node_id, b"data", stranger.sign(b"data"))


def test_verifier_refuses_a_revoked_key_it_admitted_before() -> None:
    root = SigningKey.generate(KeyKind.MESH)
    member = _credentials(root)
    revoked: set[bytes] = set()
    verifier = NodeVerifier(root.public, _accept_all, revoked.__contains__)
    assert verifier.admit(member.node_id, member.chain)
    revoked.add(member.node_id)
    assert not verifier.admit(member.node_id, member.chain)  # the cached admission does not outlive it


def test_verifier_refuses_an_expired_chain() -> None:
    root = SigningKey.generate(KeyKind.MESH)
    key = SigningKey.generate(KeyKind.NODE)
    long_ago = int(time.time()) - 10 * 86400
    chain = Chain((Certificate.issue(root, key.public, root.public, ("node",), long_ago, 3600),)).encode()

    assert not NodeVerifier(root.public, _accept_all, _none_revoked).admit(key.public.raw, chain)
