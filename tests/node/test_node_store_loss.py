"""A node never starts empty over data it had: `micro node start` on a data dir that has held a mesh,
with a store missing, empty or with a damaged write-ahead log, stops with one line; with
`--accept-store-loss` it starts."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from node_harness import Cluster, NodeProcess, micro


def stopped_with_data(cluster: Cluster) -> NodeProcess:
    """A node that wrote to both stores, then stopped."""
    (node,) = cluster.add(1)
    with node.client() as client:
        client.kv_put("kept", b"value")
    assert micro("stream", "publish", "kept.events", '{"n": 1}', data_dir=node.data_dir).returncode == 0
    node.kill(signal.SIGTERM)
    return node


def garbage_log(path: Path) -> None:
    path.with_name(path.name + "-wal").write_bytes(bytes(range(256)) * 40)


@pytest.mark.parametrize(("store", "damage", "said"), [
    ("kv", lambda data: (data / "kv.db").unlink(), "kv.db is missing"),
    ("streams", lambda data: (data / "streams.db").write_bytes(b""), "streams.db is empty (0 bytes)"),
    ("streams", lambda data: garbage_log(data / "streams.db"), "streams.db-wal is damaged"),
])
def test_a_lost_store_stops_the_start_with_one_line_unless_its_loss_is_accepted(
        cluster: Cluster, store: str, damage: Callable[[Path], None], said: str) -> None:
    node = stopped_with_data(cluster)
    damage(node.data_dir)

    started = micro("node", "start", "--bind", "127.0.0.1:0", "--no-mdns", "--profile", "local",
                    data_dir=node.data_dir, timeout=30)
    assert started.returncode == 1
    [line] = started.stderr.strip().splitlines()
    assert line.startswith(f"error: {node.data_dir / said}") and f"--accept-store-loss {store}" in line
    assert not (node.data_dir / "node.sock").exists()

    node.start("--accept-store-loss", store)
    assert node.status()["id"]
