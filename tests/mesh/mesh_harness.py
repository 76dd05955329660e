"""In-memory harness: a few real MeshCores on a fake clock, packets moved through real Wires.

Credentials are real ed25519 keys from `micro.identity`; admission checks a root signature over the node
id (a one-link stand-in for a certificate chain). Every packet is sealed and opened by `Wire` with one
shared gossip `Keyring` and delivered after `latency` seconds unless the link is cut or its ends are down.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from micro.identity import KeyKind, Keyring, SigningKey, verify_raw
from micro.mesh import Event, MeshConfig, MeshCore, Message, Wire
from micro.mesh.membership import MemberState
from micro.mesh.messages import KvEntry

ROOT = SigningKey.from_seed(KeyKind.MESH, b"r" * 32)
KEYRING = Keyring(b"k" * 32)
CONFIG = MeshConfig.local()


class Creds:
    def __init__(self, seed: int, root: SigningKey = ROOT) -> None:
        self.key = SigningKey.from_seed(KeyKind.NODE, seed.to_bytes(32, "big"))
        self.node_id = self.key.public.raw
        self.chain = root.sign(self.node_id)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


class Verifier:
    def __init__(self) -> None:
        self.admit_calls = 0
        self.verified: list[bytes] = []

    def verify(self, node_id: bytes, data: bytes, signature: bytes) -> bool:
        self.verified.append(data)
        return verify_raw(node_id, data, signature)

    def admit(self, node_id: bytes, chain: bytes) -> bool:
        self.admit_calls += 1
        return verify_raw(ROOT.public.raw, node_id, chain)

    def accepts(self, entry: KvEntry, held: KvEntry | None) -> bool:
        return True


@dataclass
class Node:
    address: str
    creds: Creds
    core: MeshCore
    wire: Wire
    verifier: Verifier
    generation: int
    log: list[tuple[float, Event]] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return [event for _, event in self.log]

    @property
    def id(self) -> bytes:
        return self.creds.node_id

    def state_of(self, other: Node) -> MemberState | None:
        for m in self.core.members():
            if m.node_id == other.id:
                return m.state
        return None


class Net:
    def __init__(self, config: MeshConfig = CONFIG, latency: float = 0.001, seed: int = 1) -> None:
        self.config = config
        self.latency = latency
        self.now = 0.0
        self.rng = random.Random(seed)
        self.nodes: dict[str, Node] = {}
        self.down: set[str] = set()
        self.cuts: set[frozenset[str]] = set()
        self._flight: list[tuple[float, int, str, str, bytes, bool]] = []
        self._order = 0
        self.sent: list[tuple[str, str, tuple[Message, ...]]] = []

    def add(
        self, seed: int, generation: int = 1, known: list | None = None, join: bool = True, wall_offset: float = 0.0
    ) -> Node:
        address = f"10.0.0.{seed}:7946"
        creds = Creds(seed)
        verifier = Verifier()
        core = MeshCore(
            self.config,
            creds,
            verifier,
            address,
            generation,
            random.Random(seed),
            self.now,
            known=known or (),
            wall_offset=wall_offset,
        )
        node = Node(
            address, creds, core, Wire(KEYRING, creds.node_id, generation, self.config), verifier, generation
        )
        self.nodes[address] = node
        self.down.discard(address)
        if join and len(self.nodes) > 1:
            first = next(iter(self.nodes.values()))
            core.join([first.address], self.now)
        self._flush(node)
        return node

    def kill(self, node: Node) -> None:
        self.down.add(node.address)

    def cut(self, a: list[Node], b: list[Node]) -> None:
        for x in a:
            for y in b:
                self.cuts.add(frozenset((x.address, y.address)))

    def heal(self) -> None:
        self.cuts.clear()

    def _flush(self, node: Node) -> None:
        for out in node.core.packets_to_send():
            self.sent.append((node.address, out.address, out.messages))
            data = node.wire.seal(out.messages, out.reliable)
            if not out.reliable:
                assert len(data) <= self.config.max_datagram, len(data)
            self._order += 1
            heapq.heappush(
                self._flight,
                (self.now + self.latency, self._order, node.address, out.address, data, out.reliable),
            )
        while (event := node.core.next_event()) is not None:
            node.log.append((self.now, event))

    def inject(self, source: Node, target: Node, messages: list, reliable: bool = False) -> None:
        """Deliver messages sealed by `source`'s wire, as if sent now."""
        self._order += 1
        heapq.heappush(
            self._flight,
            (
                self.now + self.latency,
                self._order,
                source.address,
                target.address,
                source.wire.seal(messages, reliable),
                reliable,
            ),
        )

    def _next_timer(self) -> tuple[float, Node | None]:
        best: tuple[float, Node | None] = (float("inf"), None)
        for node in self.nodes.values():
            if node.address in self.down:
                continue
            t = node.core.get_timer()
            if t is not None and t < best[0]:
                best = (t, node)
        return best

    def run(self, seconds: float) -> None:
        self.run_until(self.now + seconds)

    def run_until(self, end: float) -> None:
        while True:
            t_timer, node = self._next_timer()
            t_packet = self._flight[0][0] if self._flight else float("inf")
            t = min(t_timer, t_packet)
            if t > end:
                self.now = end
                return
            self.now = max(self.now, t)
            if t_packet <= t_timer:
                _, _, src, dst, data, reliable = heapq.heappop(self._flight)
                target = self.nodes.get(dst)
                if (
                    target is None
                    or dst in self.down
                    or src in self.down
                    or frozenset((src, dst)) in self.cuts
                ):
                    continue
                opened = target.wire.open(data, self.now, reliable=reliable)
                if opened is not None:
                    target.core.receive(src, opened.messages, self.now, reliable=reliable)
                    self._flush(target)
            else:
                assert node is not None
                node.core.handle_timer(self.now)
                self._flush(node)
