"""Deleted keys through real node processes: a member that was down while a key was deleted does not bring
the key back when it restarts from its data dir."""

from __future__ import annotations

import signal
from typing import Any

from micro.node.api.datadir import DataDir
from node_harness import Cluster, NodeProcess, or_none, wait_each, wait_until

DB = "tombstones"
COLLECTIONS = 6
"""Push-pull periods (2 s each in `local`) to let pass: each one runs collection, and a tombstone that
every live member holds goes within two or three."""


def get(node: NodeProcess, key: str) -> dict[str, Any] | None:
    with node.client() as client:
        return or_none(lambda: client.kv_get(key, db=DB))


def push_pulls(node: NodeProcess) -> int:
    return int(node.status()["counters"]["core.push_pulls"])


def test_a_key_deleted_while_a_member_was_killed_stays_deleted_when_it_restarts(cluster: Cluster) -> None:
    a, b, c = cluster.form(3)
    wait_until(lambda: set(DataDir(c.data_dir).load_members()) == {a.address, b.address}, 10.0,
               "c to remember the other members")
    with a.client() as client:
        client.kv_put("k", b"old", db=DB)
    wait_until(lambda: get(c, "k"), 10.0, "c to read the put")

    c.kill(signal.SIGKILL)
    cluster.wait_states([a, b], {c.address: "dead"})
    with b.client() as client:
        assert client.kv_delete("k", db=DB) is True
    wait_each((a, b), lambda node: get(node, "k") is None, 10.0, "to lose the key")
    since = {node.name: push_pulls(node) for node in (a, b)}
    wait_each((a, b), lambda node: push_pulls(node) >= since[node.name] + COLLECTIONS, 60.0,
              "to run collection a few times")

    c.start()  # same data dir and port: it still holds the old value, and rejoins by itself
    cluster.wait_states([a, b, c], {n.address: "alive" for n in (a, b, c)})
    wait_until(lambda: get(c, "k") is None, 20.0, "c to learn of the delete")
    assert [get(node, "k") for node in (a, b, c)] == [None] * 3
