"""The data dir on disk: private modes, generations, one node per directory."""

from __future__ import annotations

import stat
from pathlib import Path

from micro.node.api.datadir import DataDir
from node_harness import Cluster, micro


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_socket_are_private(cluster: Cluster) -> None:
    a, b = cluster.add(2)
    b.join(a)
    cluster.wait_states([b], {a.address: "alive"})
    b.kill(15)  # SIGTERM writes members.cbor on the way out

    for node in (a, b):
        assert _mode(node.data_dir) == 0o700
    assert _mode(a.data_dir / "node.sock") == 0o600
    for name in ("node.seed", "root.seed", "mesh.cbor", "generation", "config.key", "kv.db"):
        assert _mode(a.data_dir / name) == 0o600, name
    for name in ("node.seed", "mesh.cbor", "generation", "members.cbor", "config.key", "kv.db"):
        assert _mode(b.data_dir / name) == 0o600, name
    assert DataDir(b.data_dir).load_members() == [a.address]
    assert not (b.data_dir / "node.sock").exists()


def test_generation_increases_on_every_start(cluster: Cluster) -> None:
    (node,) = cluster.add(1)
    first = node.status()["generation"]
    node.kill(15)

    node.start()

    assert node.status()["generation"] == first + 1
    assert (node.data_dir / "generation").read_text().strip() == str(first + 1)


def test_a_second_node_on_the_same_data_dir_is_refused(cluster: Cluster) -> None:
    (node,) = cluster.add(1)

    result = micro("node", "start", "--bind", "127.0.0.1:0", "--no-mdns", data_dir=node.data_dir, timeout=30)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: a node is already running at {node.data_dir}"]
    assert node.alive()


def test_stale_socket_from_a_killed_node_is_replaced(cluster: Cluster) -> None:
    (node,) = cluster.add(1)
    node.kill()  # SIGKILL leaves node.sock behind
    assert (node.data_dir / "node.sock").exists()

    node.start()

    assert node.status()["address"] == node.address
