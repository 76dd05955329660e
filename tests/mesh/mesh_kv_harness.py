"""Key-value helpers over the in-memory mesh harness: a mesh on a fixed wall clock, writes and reads, and
a node started again from what it stored."""

from __future__ import annotations

from collections.abc import Callable

from mesh_harness import CONFIG, Net, Node
from micro.mesh import KvChanged, KvEntry, KvPurged, KvWriter, MeshConfig

EPOCH = 1_700_000_000.0  # wall-clock seconds at core time 0


def mesh(n: int = 3, config: MeshConfig = CONFIG, offsets: dict[int, float] | None = None) -> tuple[Net, list[Node]]:
    """`n` joined nodes, seeds 1 to n, two seconds after they started."""
    net = Net(config)
    nodes = [net.add(i, wall_offset=EPOCH + (offsets or {}).get(i, 0.0)) for i in range(1, n + 1)]
    net.run(2.0)
    return net, nodes


def put(net: Net, node: Node, key: str, value: bytes | None, ttl: float | None = None, db: str = "default") -> KvEntry:
    entry = node.core.kv_write(db, "t", key, value, ttl, net.now)
    node.core.kv_publish(entry, net.now)
    return entry


def read(net: Net, node: Node, key: str) -> bytes | None:
    entry = node.core.kv_get("default", "t", key, net.now)
    return None if entry is None else entry.value


def run_until(net: Net, condition: Callable[[], bool], within: float, what: str) -> None:
    """Run the mesh until `condition` holds; fail naming `what` after `within` seconds."""
    deadline = net.now + within
    while not condition():
        assert net.now < deadline, f"timed out after {within}s waiting for {what}"
        net.run(0.1)


def stored(node: Node) -> list[KvEntry]:
    """What `node`'s data dir would hold: the registers it installed, less those it purged (as the node's
    store follows the replica's events)."""
    held: dict[tuple[str, str, str], KvEntry] = {}
    for event in node.events:
        if isinstance(event, KvChanged):
            held[(event.entry.db, event.entry.table, event.entry.key)] = event.entry
        elif isinstance(event, KvPurged):
            for entry in event.entries:
                if held.get((entry.db, entry.table, entry.key)) == entry:
                    del held[(entry.db, entry.table, entry.key)]
    return list(held.values())


def restart(net: Net, old: Node, seed: int, via: Node) -> Node:
    """`old` (started with `seed`) started again from its data dir: a new generation at the same address
    loads what it stored, then joins `via`."""
    writers = [KvWriter(n.id, n.creds.chain) for n in net.nodes.values()]
    node = net.add(seed, generation=old.generation + 1, join=False, wall_offset=old.core.wall_offset)
    node.core.kv_load(stored(old), writers, net.now)
    node.core.join([via.address], net.now)
    return node
